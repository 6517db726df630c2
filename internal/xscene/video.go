package xscene

import (
	"image"
	"math"
)

// Layout of the video scene, in pixels.
const (
	maxVideoWidth = 640 // with the 16:9 height, 640×360: a typical embedded player
	videoBorder   = 6   // black frame around the picture
)

// waveTable is one period of a sine wave over 256 steps, scaled to
// 0..waveMax. Two waves plus the 16-unit floor and ±8 grain keep every
// channel inside 0..255 without clamping.
var waveTable = func() (t [256]int) {
	for i := range t {
		t[i] = int(math.Round(waveMax / 2 * (1 + math.Sin(2*math.Pi*float64(i)/256))))
	}
	return t
}()

// waveMax is the largest value in waveTable.
const waveMax = 110

// video is SceneVideo: a static document page with a picture whose pixels
// all change every update.
type video struct {
	p       *Painter
	l       layers
	win     window
	doc     document
	picture image.Rectangle // root coordinates, clipped to the area
	frame   int             // updates drawn

	// buf holds one frame as ZPixmap scanlines of stride bytes, reused.
	buf    []byte
	stride int
	// rgb converts each channel's 8-bit value to its bits of a pixel,
	// so that a pixel costs three lookups rather than three divisions.
	rgb [3][256]uint32
	// Per-column and per-row wave terms of the current frame.
	cols, rows [3][]int
}

// newVideo lays out SceneVideo over area (already clipped to the root):
// a window showing a document with a picture of at most maxVideoWidth
// by 9/16 of that, centred horizontally a third of the way down.
func newVideo(p *Painter, area image.Rectangle) *video {
	win := newWindow(area)
	b := win.body
	w := min(maxVideoWidth, b.Dx()*2/3)
	h := min(w*9/16, b.Dy()*2/3)
	x := b.Min.X + (b.Dx()-w)/2
	y := b.Min.Y + max(videoBorder, (b.Dy()-h)/3)
	pic := image.Rect(x, y, x+w, y+h).Intersect(b)
	s := &video{p: p, l: newLayers(area), win: win, doc: document{area: b}, picture: pic}
	if pic.Empty() {
		return s
	}
	s.stride = p.format.stride(pic.Dx())
	s.buf = make([]byte, s.stride*pic.Dy())
	for v := range 256 {
		s.rgb[0][v] = p.format.red.encode(uint8(v))
		s.rgb[1][v] = p.format.green.encode(uint8(v))
		s.rgb[2][v] = p.format.blue.encode(uint8(v))
	}
	for c := range 3 {
		s.cols[c] = make([]int, pic.Dx())
		s.rows[c] = make([]int, pic.Dy())
	}
	return s
}

// start paints the window, the page around the picture, the picture's
// frame and the first picture.
func (s *video) start() {
	s.win.paint(&s.l)
	s.doc.paint(&s.l, s.doc.area)
	s.l.add(inkVideoFrame, s.picture.Inset(-videoBorder))
	s.l.flush(s.p)
	s.drawPicture()
}

// update draws the next picture; nothing else changes.
func (s *video) update() {
	s.frame++
	s.drawPicture()
}

// drawPicture renders the current frame and sends it with PutImage.
func (s *video) drawPicture() {
	if s.picture.Empty() {
		return
	}
	s.render()
	s.p.putImage(s.picture, s.buf, s.stride)
}

// render fills buf with frame s.frame: per channel, the sum of a wave
// across and a wave down the picture, both moving at their own speeds
// (a few pixels per frame, like a camera pan), plus deterministic grain
// that differs in every pixel of every frame, like sensor noise. Both
// are functions of the frame number only, so a run is reproducible.
func (s *video) render() {
	t := s.frame
	w, h := s.picture.Dx(), s.picture.Dy()
	// Spatial frequency (as a shift) and speed per channel and direction.
	for x := range w {
		s.cols[0][x] = waveTable[(x>>1+3*t)&255]
		s.cols[1][x] = waveTable[(x>>2-5*t)&255]
		s.cols[2][x] = waveTable[(x*3>>3+2*t)&255]
	}
	for y := range h {
		s.rows[0][y] = waveTable[(y>>1-2*t)&255]
		s.rows[1][y] = waveTable[(y*3>>3+4*t)&255]
		s.rows[2][y] = waveTable[(y>>2-3*t)&255]
	}
	bpp := s.p.format.bitsPerPixel / 8
	for y := range h {
		row := s.buf[y*s.stride:]
		r0, g0, b0 := 16+s.rows[0][y], 16+s.rows[1][y], 16+s.rows[2][y]
		for x := range w {
			n := grain(x, y, t)
			v := s.rgb[0][r0+s.cols[0][x]+n] |
				s.rgb[1][g0+s.cols[1][x]+n] |
				s.rgb[2][b0+s.cols[2][x]+n]
			s.p.format.put(row[x*bpp:], v)
		}
	}
}

// grain returns a pseudo-random value in -8..7 that depends only on its
// arguments: a cheap integer hash, so reproducible and fast.
func grain(x, y, t int) int {
	h := uint32(x)*0x9e3779b1 ^ uint32(y)*0x85ebca77 ^ uint32(t)*0xc2b2ae3d
	h ^= h >> 15
	h *= 0x2c1b3c6d
	h ^= h >> 12
	return int(h>>28) - 8
}
