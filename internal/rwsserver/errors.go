package rwsserver

import "errors"

// ErrBadConfig: Start was given a Config it cannot run with; the error says which field.
var ErrBadConfig = errors.New("rwsserver: bad config")
