package encode

import "github.com/screenrec/recorder/engine/internal/avext"

// LibraryVersion is one FFmpeg library's version at run time and at build time.
type LibraryVersion = avext.LibraryVersion

// LibraryVersions lists the FFmpeg libraries the engine runs with.
func LibraryVersions() []LibraryVersion { return avext.LibraryVersions() }
