package encoderbench

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
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

// barChart draws grouped bars (a NaN value draws no bar) with horizontal lines, as SVG.
func barChart(title, ylabel string, cats []string, ss []series, lines []goalLine) ([]byte, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	ymax := 1.1
	groupWidth := vg.Points(60)
	barWidth := groupWidth / vg.Length(max(1, len(ss)))
	for i, s := range ss {
		vals := make(plotter.Values, len(s.values))
		for j, v := range s.values {
			if !math.IsNaN(v) {
				vals[j] = v
				ymax = max(ymax, v*1.1)
			}
		}
		bc, err := plotter.NewBarChart(vals, barWidth)
		if err != nil {
			return nil, fmt.Errorf("%w: chart: %w", ErrReport, err)
		}
		bc.Offset = barWidth * vg.Length(float64(i)-float64(len(ss)-1)/2)
		bc.Color = plotutil.Color(i)
		bc.LineStyle.Width = 0
		p.Add(bc)
		p.Legend.Add(s.name, bc)
	}
	right := math.Max(float64(len(cats))-0.5, 0.5)
	for _, gl := range lines {
		l, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: gl.y}, {X: right, Y: gl.y}})
		if err != nil {
			return nil, fmt.Errorf("%w: chart: %w", ErrReport, err)
		}
		l.Color = gl.color
		l.Width = vg.Points(1.2)
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(gl.label, l)
	}
	p.Y.Max = ymax * 1.25 // room for the legend above the bars
	if len(cats) > 0 {
		p.NominalX(cats...)
	}
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = text.XRight
	p.Legend.Top = true
	width := max(vg.Points(600), vg.Length(len(cats))*(groupWidth+vg.Points(20))+vg.Points(120))
	wt, err := p.WriterTo(width, vg.Points(360), "svg")
	if err != nil {
		return nil, fmt.Errorf("%w: chart: %w", ErrReport, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("%w: chart: %w", ErrReport, err)
	}
	return buf.Bytes(), nil
}
