// xds-probe connects to istiod's plaintext xDS port as one proxy, through Istio's own ADS client
// (istio.io/istio/pkg/adsc), waits until istiod has sent CDS, EDS (for every EDS cluster), LDS,
// RDS (for every route the listeners name) and, when the proxy captures DNS, the name table (NDS),
// and prints what it received as one JSON object:
//
//	{"clusters":[Cluster], "endpoints":[ClusterLoadAssignment], "listeners":[Listener],
//	 "routes":[RouteConfiguration], "nameTable":NameTable|null}
//
// each resource as Envoy's (or Istio's) protojson. The proxy is described by a JSON file (or "-"
// for stdin), built by testbed/xds.ts from the Pod:
//
//	{"address":"127.0.0.1:PORT", "nodeType":"sidecar"|"router", "ip":"10.244.1.20",
//	 "workload":"sleep-0", "namespace":"foo", "meta":{"CLUSTER_ID":"cluster1", ...}}
//
// Exit 1 with one line on stderr when istiod does not answer or does not send all of it in time.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoregistry"

	"istio.io/istio/pilot/pkg/model"
	v3 "istio.io/istio/pilot/pkg/xds/v3"
	"istio.io/istio/pkg/adsc"
	_ "istio.io/istio/pkg/config/xds" // registers the Envoy filter types that listeners carry as Any
	dnsProto "istio.io/istio/pkg/dns/proto"

	"kubectl-mesh.local/testbed-istio/internal/probe"
)

// store keeps the last response of each type, written by adsc's receive goroutine (ResponseHandler
// runs there, before adsc processes the response) and read by main under the lock.
type store struct {
	mu       sync.Mutex
	last     map[string]*discovery.DiscoveryResponse
	changed  time.Time
	rdsAsked string
}

func (s *store) get(t string) *discovery.DiscoveryResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[t]
}

func (s *store) quietFor() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.changed)
}

// HandleResponse records the response. adsc asks RDS only for route names it guesses from listener
// ports; when a response shows the listeners name others, ask for all of them (from this goroutine:
// a gRPC stream must not be sent on concurrently). adsc's ACK then keeps the full list.
func (s *store) HandleResponse(c *adsc.ADSC, r *discovery.DiscoveryResponse) {
	s.mu.Lock()
	s.last[r.TypeUrl] = r
	s.changed = time.Now()
	lds := s.last[v3.ListenerType]
	asked := s.rdsAsked
	s.mu.Unlock()
	if r.TypeUrl != v3.RouteType && r.TypeUrl != v3.ListenerType || lds == nil {
		return
	}
	names := routeNames(lds)
	key := strings.Join(names, ",")
	if len(names) == 0 || key == asked {
		return
	}
	req := &discovery.DiscoveryRequest{TypeUrl: v3.RouteType, ResourceNames: names}
	if r.TypeUrl == v3.RouteType {
		req.ResponseNonce, req.VersionInfo = r.Nonce, r.VersionInfo
	}
	if c.Send(req) == nil {
		s.mu.Lock()
		s.rdsAsked = key
		s.mu.Unlock()
	}
}

var cli = probe.New("xds-probe", "proxy", "how long to wait for istiod's responses")

func fail(format string, a ...any) { cli.Fail(format, a...) }

func main() {
	pc, meta := cli.Start()
	timeout := cli.Timeout
	nodeType := model.SidecarProxy
	if pc.NodeType == "router" {
		nodeType = model.Router
	}
	dns := fmt.Sprint(pc.Meta["DNS_CAPTURE"]) == "true"

	// LDS up front too: adsc asks for it only after the first EDS response (none without EDS clusters)
	initial := []*discovery.DiscoveryRequest{{TypeUrl: v3.ClusterType}, {TypeUrl: v3.ListenerType}}
	if dns {
		initial = append(initial, &discovery.DiscoveryRequest{TypeUrl: v3.NameTableType})
	}
	st := &store{last: map[string]*discovery.DiscoveryResponse{}, changed: time.Now()}
	client, err := adsc.New(pc.Address, &adsc.ADSConfig{
		Config: adsc.Config{
			Namespace: pc.Namespace,
			Workload:  pc.Workload,
			IP:        pc.IP,
			NodeType:  nodeType,
			Meta:      meta,
		},
		InitialDiscoveryRequests: initial,
		ResponseHandler:          st,
	})
	if err != nil {
		fail("istiod at %s: %v", pc.Address, err)
	}
	if err := client.Run(); err != nil {
		fail("istiod at %s did not answer: %v", pc.Address, err)
	}
	defer client.Close()

	deadline := time.Now().Add(*timeout)
	var missing []string
	var rdsSince time.Time
	for {
		missing = missingTypes(st, client, dns)
		// complete, and no new response for a moment (istiod pushes a changed type as one response)
		if len(missing) == 0 && st.quietFor() > 300*time.Millisecond {
			break
		}
		// routes are best effort: when only RDS is missing, give it 3 s more, then print without
		if len(missing) == 1 && missing[0] == "RDS" {
			if rdsSince.IsZero() {
				rdsSince = time.Now()
			} else if time.Since(rdsSince) > 3*time.Second {
				fmt.Fprintf(os.Stderr, "xds-probe: warning: not every route the listeners name arrived; routes are partial\n")
				break
			}
		}
		if time.Now().After(deadline) {
			if st.get(v3.ClusterType) == nil && st.get(v3.ListenerType) == nil {
				fail("istiod at %s sent nothing within %s (is it running? is %s its --grpcAddr?)", pc.Address, *timeout, pc.Address)
			}
			fail("istiod at %s did not send %s within %s", pc.Address, strings.Join(missing, ", "), *timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}

	out := map[string]any{
		"clusters":  resources(st, v3.ClusterType, func() proto.Message { return &cluster.Cluster{} }),
		"endpoints": resources(st, v3.EndpointType, func() proto.Message { return &endpoint.ClusterLoadAssignment{} }),
		"listeners": resources(st, v3.ListenerType, func() proto.Message { return &listener.Listener{} }),
		"routes":    resources(st, v3.RouteType, func() proto.Message { return &route.RouteConfiguration{} }),
		"nameTable": nil,
	}
	if nt := resources(st, v3.NameTableType, func() proto.Message { return &dnsProto.NameTable{} }); len(nt) > 0 {
		out["nameTable"] = nt[0]
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		fail("encoding: %v", err)
	}
}

// missingTypes lists what istiod has not sent yet: CDS, EDS for every EDS cluster, LDS, RDS for
// every route name an HTTP connection manager refers to, and NDS when DNS capture is on.
func missingTypes(st *store, c *adsc.ADSC, dns bool) []string {
	recv := st.get
	var missing []string
	cds := recv(v3.ClusterType)
	if cds == nil {
		return []string{"CDS", "EDS", "LDS"}
	}
	edsWanted := c.GetEdsClusters()
	if len(edsWanted) > 0 {
		got := map[string]bool{}
		if eds := recv(v3.EndpointType); eds != nil {
			for _, r := range eds.Resources {
				cla := &endpoint.ClusterLoadAssignment{}
				if proto.Unmarshal(r.Value, cla) == nil {
					got[cla.ClusterName] = true
				}
			}
		}
		for name := range edsWanted {
			if !got[name] {
				missing = append(missing, "EDS")
				break
			}
		}
	}
	lds := recv(v3.ListenerType)
	if lds == nil {
		missing = append(missing, "LDS")
	} else if names := routeNames(lds); len(names) > 0 {
		got := map[string]bool{}
		if rds := recv(v3.RouteType); rds != nil {
			for _, r := range rds.Resources {
				rc := &route.RouteConfiguration{}
				if proto.Unmarshal(r.Value, rc) == nil {
					got[rc.Name] = true
				}
			}
		}
		for _, n := range names {
			if !got[n] {
				missing = append(missing, "RDS")
				break
			}
		}
	}
	if dns && recv(v3.NameTableType) == nil {
		missing = append(missing, "NDS")
	}
	return missing
}

// routeNames: the RDS route names the HTTP connection managers of these listeners use.
func routeNames(lds *discovery.DiscoveryResponse) []string {
	names := map[string]bool{}
	for _, r := range lds.Resources {
		l := &listener.Listener{}
		if proto.Unmarshal(r.Value, l) != nil || l.ApiListener != nil {
			continue
		}
		for _, fc := range l.FilterChains {
			for _, f := range fc.Filters {
				h := &hcm.HttpConnectionManager{}
				if f.GetTypedConfig() == nil || f.GetTypedConfig().UnmarshalTo(h) != nil {
					continue
				}
				if rds := h.GetRds(); rds != nil && rds.RouteConfigName != "" {
					names[rds.RouteConfigName] = true
				}
			}
		}
	}
	out := make([]string, 0, len(names))
	for n := range names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var marshal = protojson.MarshalOptions{Resolver: protoregistry.GlobalTypes}

// resources decodes the last response of one type, each resource as protojson (a raw JSON value).
func resources(st *store, typeURL string, mk func() proto.Message) []json.RawMessage {
	out := []json.RawMessage{}
	resp := st.get(typeURL)
	if resp == nil {
		return out
	}
	for _, r := range resp.Resources {
		m := mk()
		if err := proto.Unmarshal(r.Value, m); err != nil {
			fail("decoding a %s resource: %v", typeURL, err)
		}
		b, err := marshal.Marshal(m)
		if err != nil {
			fail("protojson of a %s resource: %v", typeURL, err)
		}
		out = append(out, b)
	}
	return out
}
