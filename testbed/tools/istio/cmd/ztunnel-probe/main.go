// ztunnel-probe connects to istiod's plaintext xDS port as one ztunnel, through Istio's own delta
// ADS client (istio.io/istio/pkg/adsc NewDelta, as Istio's own tests subscribe ztunnels), with a
// wildcard subscription to type.googleapis.com/istio.workload.Address, waits until the initial
// watch is synced and istiod has been quiet for a moment, and prints every Address it holds:
//
//	{"addresses":[{"name":RESOURCE_NAME, "address":Address}]}
//
// each Address as Istio's protojson (istio.workload.Address: a Workload or a Service; bytes fields
// such as IPs are base64, as protojson writes them). The ztunnel is described by a JSON file (or "-"
// for stdin), built by testbed/xds.ts:
//
//	{"address":"127.0.0.1:PORT", "ip":"10.244.1.3", "workload":"ztunnel-0",
//	 "namespace":"istio-system", "meta":{"CLUSTER_ID":"cluster1", ...}}
//
// Exit 1 with one line on stderr when istiod does not answer or does not sync in time.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/adsc"
	"istio.io/istio/pkg/workloadapi"

	"kubectl-mesh.local/testbed-istio/internal/probe"
)

type store struct {
	mu      sync.Mutex
	byName  map[string]*workloadapi.Address
	changed time.Time
}

func (s *store) quietFor() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Since(s.changed)
}

var cli = probe.New("ztunnel-probe", "ztunnel", "how long to wait for istiod")

func fail(format string, args ...any) { cli.Fail(format, args...) }

func main() {
	quiet := flag.Duration("quiet", 500*time.Millisecond, "print once istiod has sent nothing for this long after the sync")
	pc, meta := cli.Start()
	timeout := cli.Timeout

	st := &store{byName: map[string]*workloadapi.Address{}, changed: time.Now()}
	handler := adsc.Register(func(_ adsc.HandlerContext, name string, _ string, a *workloadapi.Address, ev adsc.Event) {
		st.mu.Lock()
		defer st.mu.Unlock()
		st.changed = time.Now()
		if ev == adsc.EventDelete || a == nil {
			delete(st.byName, name)
			return
		}
		st.byName[name] = a
	})
	client := adsc.NewDelta(pc.Address, &adsc.DeltaADSConfig{Config: adsc.Config{
		ClientName: "ztunnel-probe",
		Namespace:  pc.Namespace,
		Workload:   pc.Workload,
		IP:         pc.IP,
		NodeType:   model.Ztunnel,
		Meta:       meta,
	}}, handler, adsc.Watch[*workloadapi.Address]("*"))

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	go client.Run(ctx)
	select {
	case <-client.Synced():
	case <-ctx.Done():
		fail("istiod at %s sent no Address response within %v", pc.Address, *timeout)
	}
	for st.quietFor() < *quiet {
		if ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	client.Close()

	st.mu.Lock()
	names := make([]string, 0, len(st.byName))
	for n := range st.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	m := protojson.MarshalOptions{UseProtoNames: false}
	out := make([]map[string]json.RawMessage, 0, len(names))
	for _, n := range names {
		b, err := m.Marshal(st.byName[n])
		if err != nil {
			fail("marshal %s: %v", n, err)
		}
		nb, _ := json.Marshal(n)
		out = append(out, map[string]json.RawMessage{"name": nb, "address": b})
	}
	st.mu.Unlock()
	enc, _ := json.Marshal(map[string]any{"addresses": out})
	os.Stdout.Write(enc)
	os.Stdout.Write([]byte("\n"))
}
