package engine

import "testing"

// An engine draws the pointer unless told not to, as the CLI does.
func TestEngineDrawsThePointerByDefault(t *testing.T) {
	t.Parallel()
	if e := scriptedEngine(t, Config{}, twoMonitors()); !e.spec.DrawMouse {
		t.Error("Config{} does not draw the pointer")
	}
}

// HideMouse leaves the pointer out.
func TestEngineHideMouse(t *testing.T) {
	t.Parallel()
	if e := scriptedEngine(t, Config{HideMouse: true}, twoMonitors()); e.spec.DrawMouse {
		t.Error("Config{HideMouse: true} draws the pointer")
	}
}
