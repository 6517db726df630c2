package sdk

import "github.com/hashicorp/go-plugin"

// Handshake is the go-plugin handshake every recorder plugin binary and the host share.
//
// ProtocolVersion is the plugin protocol's major version:
//   - 1: the first protocol (recorder.plugin.v1): Base, Frontend, Uploader, and the Engine
//     service the host serves to front ends over the broker. Base.Telemetry and
//     Base.FlushTelemetry were added within 1: a plugin without them answers Unimplemented,
//     which the host takes as "reports no telemetry".
//
// The magic cookie is a UX feature, not a security feature: it only stops a user from running a
// plugin binary by hand (the binary then prints that it is a plugin and exits). It must never
// change, or older plugins stop loading.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "RECORDER_PLUGIN",
	MagicCookieValue: "eb85a879f5f1be45c755092ac9ea9fd784b00e628fff61639eec6d4119cbccbc",
}
