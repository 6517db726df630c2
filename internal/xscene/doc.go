// Package xscene draws into an X11 root window from pure Go, using the
// github.com/jezek/xgb protocol bindings, so that tests, benchmarks and
// demos of the recorder have known, reproducible content to capture
// without depending on any GUI toolkit.
//
// A Painter holds one X connection and fills rectangles synchronously
// (when Fill returns, the pixels are on screen) and reads pixels back with
// GetImage. Animate runs a cheap, deterministic "scrolling document"
// scene, which exercises an encoder the way a real desktop does: mostly
// small changes, a steadily scrolling region and one moving object.
//
// Play runs the named scenes of the encoder benchmark (SceneIdle,
// SceneTyping, SceneScrolling, SceneVideo; Mixed3 assigns one to each of
// three monitors), each a window whose content changes in one typical
// way. Every scene is a pure function of the number of updates drawn, so
// two runs show the same frames.
//
// Colours are given as color.RGBA and converted to the root visual's
// pixel format; on the usual 24-bit TrueColor visual a pixel is 0xRRGGBB.
package xscene
