// testbed-dns: the test bed's DNS server for load-balancer hostnames. It answers A and AAAA
// queries from a JSON zone file ({"name.": {"a": ["127.0.0.12"], "aaaa": []}}), re-read when it
// changes, with a TTL of --ttl seconds; a query for any other name is forwarded to --upstream
// (the machine's own resolver), else answered NXDOMAIN. istiod runs in a mount namespace
// whose /etc/resolv.conf names this server (testbed/istiod.ts), as a node's resolver would.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

type record struct {
	A    []string `json:"a"`
	AAAA []string `json:"aaaa"`
}

type zone struct {
	mu      sync.Mutex
	path    string
	modTime time.Time
	records map[string]record
}

func (z *zone) lookup(name string) (record, bool) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if st, err := os.Stat(z.path); err == nil && !st.ModTime().Equal(z.modTime) {
		if b, err := os.ReadFile(z.path); err == nil {
			recs := map[string]record{}
			if json.Unmarshal(b, &recs) == nil {
				z.records = map[string]record{}
				for k, v := range recs {
					z.records[dns.Fqdn(strings.ToLower(k))] = v
				}
				z.modTime = st.ModTime()
			}
		}
	}
	r, ok := z.records[strings.ToLower(name)]
	return r, ok
}

func main() {
	listen := flag.String("listen", "127.0.0.53:53", "UDP and TCP address")
	zoneFile := flag.String("zone", "", "JSON zone file")
	ttl := flag.Uint("ttl", 30, "TTL of every answer (istiod re-resolves after max(TTL, 30s))")
	upstream := flag.String("upstream", "", "HOST:PORT to forward other names to")
	flag.Parse()
	z := &zone{path: *zoneFile, records: map[string]record{}}
	dns.HandleFunc(".", func(w dns.ResponseWriter, req *dns.Msg) {
		if len(req.Question) == 1 && *upstream != "" {
			if _, ok := z.lookup(req.Question[0].Name); !ok {
				if in, _, err := new(dns.Client).Exchange(req, *upstream); err == nil {
					_ = w.WriteMsg(in)
					return
				}
			}
		}
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		for _, q := range req.Question {
			r, ok := z.lookup(q.Name)
			if !ok {
				m.Rcode = dns.RcodeNameError
				continue
			}
			hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: uint32(*ttl)}
			switch q.Qtype {
			case dns.TypeA:
				for _, ip := range r.A {
					hdr.Rrtype = dns.TypeA
					m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: net.ParseIP(ip).To4()})
				}
			case dns.TypeAAAA:
				for _, ip := range r.AAAA {
					hdr.Rrtype = dns.TypeAAAA
					m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: net.ParseIP(ip)})
				}
			}
		}
		_ = w.WriteMsg(m)
	})
	errs := make(chan error, 2)
	for _, proto := range []string{"udp", "tcp"} {
		s := &dns.Server{Addr: *listen, Net: proto}
		go func() { errs <- s.ListenAndServe() }()
	}
	log.Printf("testbed-dns serving %s (zone %s, ttl %ds)", *listen, *zoneFile, *ttl)
	log.Fatal(<-errs)
}
