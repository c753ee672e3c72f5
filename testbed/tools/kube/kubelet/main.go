// testbed-kubelet: the port-forward endpoint of a kubelet, and nothing else, for the test bed.
//
// The test bed has no kubelet and no container runtime, so `pods/portforward` through its API
// server had nowhere to go. This serves the kubelet's /portForward/{namespace}/{pod} with the
// kubelet's own streaming code (k8s.io/cri-streaming, the package the kubelet and the CRI
// runtimes use: WebSocket v4.channel.k8s.io, SPDY, and SPDY tunnelled over WebSocket), so the
// API server's proxying and both wire protocols are the real ones. The only stand-in is the
// container network: a pod's port is a loopback port named on the command line.
//
//	testbed-kubelet --listen 127.0.0.1:0 --port-file F --forward istio-system/istiod-x:15014=127.0.0.1:40123 …
//
// It listens on TLS with a throwaway self-signed certificate (the API server skips verifying
// kubelet certificates when --kubelet-certificate-authority is not set), writes the port it got
// to --port-file, and only ever dials 127.0.0.1.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	"k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
)

type forwards []string

func (f *forwards) String() string     { return strings.Join(*f, ",") }
func (f *forwards) Set(v string) error { *f = append(*f, v); return nil }

// routes: "namespace/pod:port" -> "127.0.0.1:N"
type forwarder struct{ routes map[string]string }

func (f forwarder) PortForward(ctx context.Context, name string, uid string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	target, ok := f.routes[name+":"+strconv.Itoa(int(port))]
	if !ok {
		return fmt.Errorf("pod %s has no port %d", name, port)
	}
	conn, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}()
	_, err = io.Copy(stream, conn)
	return err
}

func selfSigned() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "testbed-kubelet"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		log.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to serve on")
	portFile := flag.String("port-file", "", "write the port served on to this file")
	var fw forwards
	flag.Var(&fw, "forward", "namespace/pod:port=127.0.0.1:N (repeatable)")
	flag.Parse()

	routes := map[string]string{}
	for _, f := range fw {
		from, to, ok := strings.Cut(f, "=")
		host, _, err := net.SplitHostPort(to)
		if !ok || err != nil || host != "127.0.0.1" {
			log.Fatalf("--forward %q: expected namespace/pod:port=127.0.0.1:N", f)
		}
		routes[from] = to
	}
	if host, _, err := net.SplitHostPort(*listen); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("--listen %q: a loopback address only", *listen)
	}
	pf := forwarder{routes: routes}

	mux := http.NewServeMux()
	mux.HandleFunc("/portForward/{namespace}/{pod}", func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("namespace") + "/" + req.PathValue("pod")
		log.Printf("%s %s (upgrade %q, protocols %q)", req.Method, req.URL.RequestURI(), req.Header.Get("Upgrade"), req.Header.Values("Sec-WebSocket-Protocol"))
		serve := func(w http.ResponseWriter, req *http.Request, opts *portforward.V4Options) {
			portforward.ServePortForward(w, req, pf, name, "", opts, 4*time.Hour, 30*time.Second, []string{"portforward.k8s.io"})
		}
		// As the kubelet does: SPDY tunnelled over WebSocket is unwrapped, then served as SPDY.
		if wsstream.IsWebSocketRequestWithTunnelingProtocol(req) {
			proxy.NewTunnelingHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				serve(w, r, &portforward.V4Options{})
			})).ServeHTTP(w, req)
			return
		}
		opts, err := portforward.NewV4Options(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		serve(w, req, opts)
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if *portFile != "" {
		if err := os.WriteFile(*portFile, []byte(strconv.Itoa(port)), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	log.Printf("serving the kubelet port-forward API on https://127.0.0.1:%d for %d route(s)", port, len(routes))
	srv := &http.Server{Handler: mux, TLSConfig: &tls.Config{Certificates: []tls.Certificate{selfSigned()}}}
	log.Fatal(srv.ServeTLS(ln, "", ""))
}
