// Package xvfb starts private, headless X servers (Xvfb) whose single wide
// screen is divided into several side-by-side RandR 1.5 monitors.
//
// It exists so that tests, benchmarks and demos of the recorder can capture
// a realistic multi-monitor desktop without touching the developer's own
// display.
//
// Xvfb's +xinerama option does not lay heads out side by side, so the
// package instead starts one screen as large as the bounding box of all
// monitors and then carves it into monitors with
//
//	xrandr --setmonitor NAME W/mmWxH/mmH+X+Y OUTPUT
//
// The first monitor is bound to Xvfb's only output ("screen"), which makes
// the automatic whole-screen monitor disappear; the others use output "none".
// Xvfb must run with -noreset, otherwise it resets when its last client
// disconnects and the monitors vanish with it.
//
// A free display number is chosen at random from a high range (so as not to
// collide with the numbers that xvfb-run and desktops use), and Xvfb itself
// is the final arbiter: binding the display's socket is atomic, and a server
// that loses the race exits, after which Start retries with another number.
// Xvfb's -displayfd option is used as the readiness signal: the server
// writes its display number to the descriptor once it accepts connections,
// which avoids polling.
package xvfb
