package mux

import (
	"fmt"

	"github.com/asticode/go-astiav"
)

// Tags reads the container tags of an MP4 file written by File (the metadata given to
// Create), through FFmpeg's own demuxer, the reader of what its muxer wrote with
// use_metadata_tags. Only the header is read, so a file cut after its header still gives its
// tags; a file whose header is incomplete gives an error.
func Tags(path string) (map[string]string, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return nil, fmt.Errorf("tags of %s: cannot allocate a format context", path)
	}
	defer fc.Free()
	if err := fc.OpenInput(path, nil, nil); err != nil {
		return nil, fmt.Errorf("tags of %s: %w", path, err)
	}
	defer fc.CloseInput()
	tags := map[string]string{}
	d := fc.Metadata()
	if d == nil {
		return tags, nil
	}
	flags := astiav.NewDictionaryFlags(astiav.DictionaryFlagIgnoreSuffix)
	for e := d.Get("", nil, flags); e != nil; e = d.Get("", e, flags) {
		tags[e.Key()] = e.Value()
	}
	return tags, nil
}
