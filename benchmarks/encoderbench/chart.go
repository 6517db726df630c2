package encoderbench

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	stdfont "golang.org/x/image/font"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/font/liberation"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// series is one bar colour: a variant's ratio in each category (NaN: not measured).
type series struct {
	name   string
	values []float64
}

// goalLine is a horizontal line across the chart.
type goalLine struct {
	y     float64
	label string
	color color.Color
}

// cpuChart draws the live cells' CPU ratios, grouped by scene/resolution with one bar per
// encoder/preset, and the CPU goals as lines.
func cpuChart(rep *Report) ([]byte, error) {
	var cats []string
	var labels []string
	for _, c := range rep.Live {
		cats = appendNew(cats, c.Scene+" "+c.Resolution)
		labels = appendNew(labels, c.Variant.Label())
	}
	ss := make([]series, len(labels))
	for i, l := range labels {
		ss[i] = series{name: l, values: nanValues(len(cats))}
	}
	for _, c := range rep.Live {
		if c.Ratios.CPU != nil {
			ss[slices.Index(labels, c.Variant.Label())].values[slices.Index(cats, c.Scene+" "+c.Resolution)] = *c.Ratios.CPU
		}
	}
	lines := []goalLine{{y: 1, label: "parity (1×)", color: color.Gray{Y: 150}}}
	lines = append(lines, goalLines(MetricCPURatio)...)
	title := "Live capture + encode: recorder CPU / ffmpeg CLI CPU, same run"
	if len(cats) == 0 {
		title = "No live runs in this report"
	}
	return barChart(title, "CPU ratio (lower is better)", cats, ss, lines)
}

// encodeChart draws the encode-only cells' fps ratios with the fps goal.
func encodeChart(rep *Report) ([]byte, error) {
	var cats, labels []string
	for _, c := range rep.EncodeOnly {
		cats = appendNew(cats, c.Scene+" "+c.Resolution)
		labels = appendNew(labels, c.Variant.Label())
	}
	ss := make([]series, len(labels))
	for i, l := range labels {
		ss[i] = series{name: l, values: nanValues(len(cats))}
	}
	for _, c := range rep.EncodeOnly {
		if c.Ratios.FPS != nil {
			ss[slices.Index(labels, c.Variant.Label())].values[slices.Index(cats, c.Scene+" "+c.Resolution)] = *c.Ratios.FPS
		}
	}
	lines := append([]goalLine{{y: 1, label: "parity (1×)", color: color.Gray{Y: 150}}}, goalLines(MetricFPSRatio)...)
	return barChart("Encode-only, same frames: recorder fps / ffmpeg CLI fps", "fps ratio (higher is better)", cats, ss, lines)
}

// goalColors tell goal lines apart from each other and from the grey parity line.
var goalColors = []color.Color{
	color.RGBA{R: 200, G: 30, B: 30, A: 255},
	color.RGBA{R: 230, G: 130, B: 0, A: 255},
	color.RGBA{R: 140, G: 20, B: 160, A: 255},
}

// goalLines turns the goals on a metric into lines, one per distinct limit, naming the goals.
func goalLines(metric string) []goalLine {
	byLimit := map[float64][]string{}
	var limits []float64
	want := map[float64]string{}
	for _, g := range Goals {
		if g.Metric != metric {
			continue
		}
		if _, ok := byLimit[g.Limit]; !ok {
			limits = append(limits, g.Limit)
		}
		byLimit[g.Limit] = append(byLimit[g.Limit], strings.TrimSuffix(strings.TrimSuffix(g.Name, " CPU"), " fps"))
		want[g.Limit] = g.Want()
	}
	sort.Float64s(limits)
	out := make([]goalLine, len(limits))
	for i, l := range limits {
		out[i] = goalLine{y: l, label: fmt.Sprintf("goal %s: %s", want[l], strings.Join(byLimit[l], ", ")),
			color: goalColors[i%len(goalColors)]}
	}
	return out
}

func nanValues(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// barChart draws grouped bars (a NaN value draws no bar) with dashed horizontal lines, as SVG.
// It draws on gonum's vg canvas directly rather than through gonum.org/v1/plot: that package
// parses twelve fonts in its init, which would cost every recorder process (plugins too)
// about 8 MiB of memory; here the one font needed is parsed only when a chart is drawn.
func barChart(title, ylabel string, cats []string, ss []series, lines []goalLine) ([]byte, error) {
	fonts := font.NewCache(liberation.Collection())
	face := func(size float64, bold bool) font.Face {
		f := font.Font{Typeface: "Liberation", Variant: "Sans"}
		if bold {
			f.Weight = stdfont.WeightBold
		}
		return fonts.Lookup(f, vg.Points(size))
	}
	small, normal, heading := face(9, false), face(10, false), face(12, true)

	ymax := 1.1
	for _, s := range ss {
		for _, v := range s.values {
			if !math.IsNaN(v) {
				ymax = max(ymax, v*1.1)
			}
		}
	}
	for _, l := range lines {
		ymax = max(ymax, l.y*1.1)
	}
	step := niceStep(ymax / 6)
	ymax = math.Ceil(ymax/step) * step

	const groupW, gap = 60.0, 20.0
	legendH := 14 * float64(len(ss)+len(lines))
	left, right, top, bottom := 60.0, 20.0, 30.0+legendH, 80.0
	plotW := math.Max(float64(len(cats))*(groupW+gap), 480)
	plotH := 240.0
	width, height := left+plotW+right, top+plotH+bottom
	c := vgsvg.New(vg.Points(width), vg.Points(height))
	// vg's origin is the bottom left: y grows upwards.
	pt := func(x, y float64) vg.Point { return vg.Point{X: vg.Points(x), Y: vg.Points(y)} }
	x0, y0 := left, bottom
	yAt := func(v float64) float64 { return y0 + plotH*v/ymax }
	black := color.Gray{Y: 0}

	c.SetColor(black)
	c.FillString(heading, pt(left, height-18), title)
	// Axes, ticks and grid.
	c.SetLineWidth(vg.Points(0.5))
	for v := 0.0; v <= ymax+step/2; v += step {
		y := yAt(v)
		c.SetColor(color.Gray{Y: 225})
		c.Stroke(linePath(pt(x0, y), pt(x0+plotW, y)))
		c.SetColor(black)
		label := strconv.FormatFloat(v, 'g', 3, 64)
		c.FillString(small, pt(x0-6-small.Width(label).Points(), y-3), label)
	}
	c.SetColor(black)
	c.SetLineWidth(vg.Points(1))
	c.Stroke(linePath(pt(x0, y0), pt(x0, y0+plotH)))
	c.Stroke(linePath(pt(x0, y0), pt(x0+plotW, y0)))
	c.Push()
	c.Translate(pt(16, y0+plotH/2-normal.Width(ylabel).Points()/2))
	c.Rotate(math.Pi / 2)
	c.FillString(normal, pt(0, 0), ylabel)
	c.Pop()
	// Bars.
	barW := groupW / float64(max(1, len(ss)))
	for ci, cat := range cats {
		gx := x0 + gap/2 + float64(ci)*(groupW+gap)
		for si, s := range ss {
			if v := s.values[ci]; !math.IsNaN(v) {
				c.SetColor(seriesColor(si))
				bx := gx + float64(si)*barW
				c.Fill(rectPath(pt(bx, y0), pt(bx+barW-1, yAt(v))))
			}
		}
		c.SetColor(black)
		c.Push()
		c.Translate(pt(gx+groupW/2, y0-8))
		c.Rotate(-math.Pi / 6)
		c.FillString(small, pt(-small.Width(cat).Points(), -small.Extents().Ascent.Points()/2), cat)
		c.Pop()
	}
	// Goal lines.
	c.SetLineWidth(vg.Points(1.2))
	for _, l := range lines {
		c.SetColor(l.color)
		c.SetLineDash([]vg.Length{vg.Points(5), vg.Points(3)}, 0)
		c.Stroke(linePath(pt(x0, yAt(l.y)), pt(x0+plotW, yAt(l.y))))
	}
	c.SetLineDash(nil, 0)
	// Legend, above the plot.
	ly := height - 36
	for si, s := range ss {
		c.SetColor(seriesColor(si))
		c.Fill(rectPath(pt(left, ly), pt(left+18, ly+8)))
		c.SetColor(black)
		c.FillString(small, pt(left+24, ly), s.name)
		ly -= 14
	}
	for _, l := range lines {
		c.SetColor(l.color)
		c.SetLineDash([]vg.Length{vg.Points(5), vg.Points(3)}, 0)
		c.Stroke(linePath(pt(left, ly+4), pt(left+18, ly+4)))
		c.SetLineDash(nil, 0)
		c.SetColor(black)
		c.FillString(small, pt(left+24, ly), l.label)
		ly -= 14
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("%w: chart: %w", ErrReport, err)
	}
	return buf.Bytes(), nil
}

// niceStep rounds a tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// seriesColor is bar colour i, from a palette that tells neighbours apart.
func seriesColor(i int) color.Color {
	palette := []color.Color{
		color.RGBA{R: 31, G: 119, B: 180, A: 255}, color.RGBA{R: 255, G: 127, B: 14, A: 255},
		color.RGBA{R: 44, G: 160, B: 44, A: 255}, color.RGBA{R: 148, G: 103, B: 189, A: 255},
		color.RGBA{R: 140, G: 86, B: 75, A: 255}, color.RGBA{R: 23, G: 190, B: 207, A: 255},
	}
	return palette[i%len(palette)]
}

func linePath(a, b vg.Point) vg.Path {
	var p vg.Path
	p.Move(a)
	p.Line(b)
	return p
}

func rectPath(a, b vg.Point) vg.Path {
	var p vg.Path
	p.Move(a)
	p.Line(vg.Point{X: b.X, Y: a.Y})
	p.Line(b)
	p.Line(vg.Point{X: a.X, Y: b.Y})
	p.Close()
	return p
}
