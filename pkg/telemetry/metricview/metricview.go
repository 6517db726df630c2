// Package metricview keeps metric labels bounded: a view, for every meter provider of the
// recorder and its plugin processes, that drops the attributes whose values have no bound.
//
// Dropped everywhere: the peer of a connection (client.address, client.port,
// network.peer.address, network.peer.port), one value per client. Dropped from the gRPC
// instrumentation's metrics also: the server's address and port, which for a plugin
// connection are the path of a socket go-plugin names at random for each plugin process, so
// every plugin (re)start would make new series. The other attributes the recorder's
// instruments carry have a fixed set of values (states, methods, routes, status codes, plugin
// names). Spans keep every attribute: they are events, not series.
package metricview

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// Unbounded are the attribute keys dropped from every metric.
var Unbounded = []attribute.Key{semconv.ClientAddressKey, semconv.ClientPortKey,
	semconv.NetworkPeerAddressKey, semconv.NetworkPeerPortKey}

// UnboundedRPC are the attribute keys dropped, besides Unbounded, from the metrics of the
// gRPC instrumentation (otelgrpc).
var UnboundedRPC = []attribute.Key{semconv.ServerAddressKey, semconv.ServerPortKey}

// Bounded is the view that drops them; give it to sdkmetric.NewMeterProvider
// (sdkmetric.WithView). It matches every instrument and changes nothing else.
func Bounded() sdkmetric.View {
	all := attribute.NewDenyKeysFilter(Unbounded...)
	rpc := attribute.NewDenyKeysFilter(append(append([]attribute.Key(nil), Unbounded...), UnboundedRPC...)...)
	return func(i sdkmetric.Instrument) (sdkmetric.Stream, bool) {
		f := all
		if i.Scope.Name == otelgrpc.ScopeName {
			f = rpc
		}
		return sdkmetric.Stream{Name: i.Name, Description: i.Description, Unit: i.Unit, AttributeFilter: f}, true
	}
}
