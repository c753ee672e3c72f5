// Package probe is what the bed's two xDS probes (cmd/xds-probe, cmd/ztunnel-probe) share: their
// command line (-config, -timeout), Istio's logs kept to errors on stderr, and the description of
// the proxy they pose as (testbed/xds.ts writes it), read, checked, and its metadata as the
// protobuf Struct adsc sends in the Node.
package probe

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	pstruct "google.golang.org/protobuf/types/known/structpb"

	istiolog "istio.io/istio/pkg/log"
)

// Config describes the proxy a probe poses as:
//
//	{"address":"127.0.0.1:PORT", "nodeType":"sidecar"|"router", "ip":"10.244.1.20",
//	 "workload":"sleep-0", "namespace":"foo", "meta":{"CLUSTER_ID":"cluster1", ...}}
//
// (nodeType: the xDS probe only). An alias, so that encoding/json's errors still name the struct
// probeConfig, as they did when each probe declared its own.
type Config = probeConfig

type probeConfig struct {
	Address   string         `json:"address"`
	NodeType  string         `json:"nodeType"`
	IP        string         `json:"ip"`
	Workload  string         `json:"workload"`
	Namespace string         `json:"namespace"`
	Meta      map[string]any `json:"meta"`
}

// Probe is one probe's command line. New registers -config and -timeout on the default flag set
// (the probe adds its own flags before calling Start).
type Probe struct {
	name    string // prefixes every error line: "xds-probe: ..."
	noun    string // what the description describes: "proxy", "ztunnel"
	config  *string
	Timeout *time.Duration
}

func New(name, noun, timeoutUsage string) *Probe {
	return &Probe{
		name:    name,
		noun:    noun,
		config:  flag.String("config", "-", noun+" description (JSON), - for stdin"),
		Timeout: flag.Duration("timeout", 20*time.Second, timeoutUsage),
	}
}

// Fail prints one line on stderr, prefixed with the probe's name, and exits 1.
func (p *Probe) Fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, p.name+": "+format+"\n", a...)
	os.Exit(1)
}

// Start parses the command line, keeps Istio's logs (adsc logs every response at info level) to
// errors on stderr, so that stdout holds only the result, and reads the description: the file
// named by -config, or stdin for "-". Address, ip, workload and namespace are required.
func (p *Probe) Start() (Config, *pstruct.Struct) {
	flag.Parse()

	opts := istiolog.DefaultOptions()
	opts.SetDefaultOutputLevel("all", istiolog.ErrorLevel)
	opts.OutputPaths = []string{"stderr"}
	opts.ErrorOutputPaths = []string{"stderr"}
	_ = istiolog.Configure(opts)

	var raw []byte
	var err error
	if *p.config == "-" {
		raw, err = io.ReadAll(os.Stdin)
	} else {
		raw, err = os.ReadFile(*p.config)
	}
	if err != nil {
		p.Fail("reading %s: %v", *p.config, err)
	}
	var pc Config
	if err := json.Unmarshal(raw, &pc); err != nil {
		p.Fail("parsing the %s description: %v", p.noun, err)
	}
	if pc.Address == "" || pc.IP == "" || pc.Workload == "" || pc.Namespace == "" {
		p.Fail("the %s description needs address, ip, workload and namespace", p.noun)
	}
	meta, err := pstruct.NewStruct(pc.Meta)
	if err != nil {
		p.Fail("meta: %v", err)
	}
	return pc, meta
}
