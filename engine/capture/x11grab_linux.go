//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/asticode/go-astiav"
)

var registerDevices sync.Once

// x11Source grabs a root-window area with FFmpeg's x11grab device (XCB with MIT-SHM).
type x11Source struct {
	fc     *astiav.FormatContext
	dec    *astiav.CodecContext
	pkt    *astiav.Packet
	w, h   int
	pixFmt astiav.PixelFormat
	once   sync.Once
}

var _ Source = (*x11Source)(nil)

// Open opens a capture source for track t with the method o asks for.
func Open(ctx context.Context, t Track, o SourceOptions) (Source, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch o.Method {
	case MethodXShm:
		return openShm(t, o)
	case MethodAuto, "":
		if s, err := openShm(t, o); err == nil {
			return s, nil
		}
		return openX11Grab(t, o)
	case MethodX11Grab:
		return openX11Grab(t, o)
	}
	return nil, fmt.Errorf("%w: capture method %q (want one of %v)", ErrOpen, o.Method, Methods())
}

// openX11Grab opens FFmpeg's x11grab device for track t.
func openX11Grab(t Track, o SourceOptions) (Source, error) {
	registerDevices.Do(astiav.RegisterAllDevices)
	ifmt := astiav.FindInputFormat("x11grab")
	if ifmt == nil {
		return nil, fmt.Errorf("%w: FFmpeg has no x11grab device", ErrOpen)
	}
	s := &x11Source{w: t.Grab.Dx(), h: t.Grab.Dy()}
	s.fc = astiav.AllocFormatContext()
	if s.fc == nil {
		return nil, fmt.Errorf("%w: alloc format context", ErrOpen)
	}
	opts := astiav.NewDictionary()
	defer opts.Free()
	mouse := "0"
	if o.DrawMouse {
		mouse = "1"
	}
	for k, v := range map[string]string{
		"framerate":  strconv.Itoa(o.FPS), // x11grab's default is 29.97, never what was asked
		"video_size": fmt.Sprintf("%dx%d", s.w, s.h),
		"grab_x":     strconv.Itoa(t.Grab.Min.X),
		"grab_y":     strconv.Itoa(t.Grab.Min.Y),
		"draw_mouse": mouse,
	} {
		if err := opts.Set(k, v, 0); err != nil {
			s.fc.Free()
			return nil, fmt.Errorf("%w: option %s: %w", ErrOpen, k, err)
		}
	}
	if err := s.fc.OpenInput(o.Display, ifmt, opts); err != nil {
		s.fc.Free()
		return nil, fmt.Errorf("%w: x11grab %s area %dx%d+%d+%d: %w", ErrOpen, o.Display, s.w, s.h,
			t.Grab.Min.X, t.Grab.Min.Y, err)
	}
	if err := s.openDecoder(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *x11Source) openDecoder() error {
	streams := s.fc.Streams()
	if len(streams) != 1 {
		return fmt.Errorf("%w: x11grab has %d streams", ErrOpen, len(streams))
	}
	par := streams[0].CodecParameters()
	codec := astiav.FindDecoder(par.CodecID())
	if codec == nil {
		return fmt.Errorf("%w: no decoder for %s", ErrOpen, par.CodecID())
	}
	s.dec = astiav.AllocCodecContext(codec)
	if err := par.ToCodecContext(s.dec); err != nil {
		return fmt.Errorf("%w: decoder parameters: %w", ErrOpen, err)
	}
	if err := s.dec.Open(codec, nil); err != nil {
		return fmt.Errorf("%w: open %s decoder: %w", ErrOpen, codec.Name(), err)
	}
	s.pixFmt = s.dec.PixelFormat()
	s.pkt = astiav.AllocPacket()
	return nil
}

func (s *x11Source) Size() (int, int) { return s.w, s.h }

func (s *x11Source) PixelFormat() astiav.PixelFormat { return s.pixFmt }

func (s *x11Source) Read(ctx context.Context, f *astiav.Frame) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.dec.ReceiveFrame(f)
		if err == nil {
			return nil
		}
		if !errors.Is(err, astiav.ErrEagain) {
			return fmt.Errorf("%w: decode: %w", ErrRead, err)
		}
		if err := s.fc.ReadFrame(s.pkt); err != nil {
			return fmt.Errorf("%w: %w", ErrRead, err)
		}
		err = s.dec.SendPacket(s.pkt)
		s.pkt.Unref()
		if err != nil {
			return fmt.Errorf("%w: decode: %w", ErrRead, err)
		}
	}
}

func (s *x11Source) Close() error {
	s.once.Do(func() {
		if s.pkt != nil {
			s.pkt.Free()
		}
		if s.dec != nil {
			s.dec.Free()
		}
		if s.fc != nil {
			s.fc.CloseInput()
			s.fc.Free()
		}
	})
	return nil
}
