package cloud

import "github.com/screenrec/recorder/plugins/sdk/sdktest"

// fakeEngine is the SDK test kit's fake engine, which behaves as the real one does where a
// front end can tell (sdktest.EngineBehaviour holds it to that).
type fakeEngine = sdktest.FakeEngine

func newFakeEngine() *fakeEngine { return sdktest.NewFakeEngine() }
