package probe

import (
	"testing"

	"github.com/screenrec/recorder/plugins/sdk"
	"github.com/screenrec/recorder/plugins/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	sdktest.Frontend(t, func() sdk.Frontend { return New() },
		[]byte(`{"listen":"127.0.0.1:0"}`), []byte(`{"listen":"127.0.0.1:99999"}`))
}
