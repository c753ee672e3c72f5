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
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	pstruct "google.golang.org/protobuf/types/known/structpb"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pkg/adsc"
	istiolog "istio.io/istio/pkg/log"
	"istio.io/istio/pkg/workloadapi"
)

type probeConfig struct {
	Address   string         `json:"address"`
	IP        string         `json:"ip"`
	Workload  string         `json:"workload"`
	Namespace string         `json:"namespace"`
	Meta      map[string]any `json:"meta"`
}

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

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ztunnel-probe: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	cfgFile := flag.String("config", "-", "ztunnel description (JSON), - for stdin")
	timeout := flag.Duration("timeout", 20*time.Second, "how long to wait for istiod")
	quiet := flag.Duration("quiet", 500*time.Millisecond, "print once istiod has sent nothing for this long after the sync")
	flag.Parse()

	opts := istiolog.DefaultOptions()
	opts.SetDefaultOutputLevel("all", istiolog.ErrorLevel)
	opts.OutputPaths = []string{"stderr"}
	opts.ErrorOutputPaths = []string{"stderr"}
	_ = istiolog.Configure(opts)

	var raw []byte
	var err error
	if *cfgFile == "-" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(*cfgFile)
	}
	if err != nil {
		fail("reading %s: %v", *cfgFile, err)
	}
	var pc probeConfig
	if err := json.Unmarshal(raw, &pc); err != nil {
		fail("parsing the ztunnel description: %v", err)
	}
	if pc.Address == "" || pc.IP == "" || pc.Workload == "" || pc.Namespace == "" {
		fail("the ztunnel description needs address, ip, workload and namespace")
	}
	meta, err := pstruct.NewStruct(pc.Meta)
	if err != nil {
		fail("meta: %v", err)
	}

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
