// Command fetchmany issues N concurrent GETs of one URL (each on its own
// connection, all released at once) and reports:
//
//	requests=N
//	status_200=K            (one line per status code seen, sorted)
//	errors=E                (transport errors)
//	distinct_bodies=D       (among responses with -status)
//	sha256=HEX              (of the body, if exactly one distinct body)
//	bytes=LEN
//
// It exits 1 if any request failed (transport error or status != -status) or
// the bodies differ. HTTPS servers are trusted via SSL_CERT_FILE or -cacert.
package main

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	n := flag.Int("n", 100, "number of concurrent requests")
	url := flag.String("url", "", "URL to fetch")
	want := flag.Int("status", 200, "expected status code")
	cacert := flag.String("cacert", "", "PEM file of CA certificates to trust (default: system roots / SSL_CERT_FILE)")
	timeout := flag.Duration("timeout", 60*time.Second, "per-request timeout")
	bodyOut := flag.String("o", "", "write the (first) body to this file")
	flag.Parse()
	if *url == "" || *n < 1 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: fetchmany [-n 100] -url URL [-status 200] [-cacert F] [-timeout D] [-o FILE]")
		os.Exit(2)
	}

	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: *n,
		DisableKeepAlives:   true, // one connection per request
		ForceAttemptHTTP2:   false,
	}
	if *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fetchmany:", err)
			os.Exit(2)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintln(os.Stderr, "fetchmany: no certificates in", *cacert)
			os.Exit(2)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	}
	client := &http.Client{Transport: tr, Timeout: *timeout}

	type result struct {
		status int
		body   []byte
		err    error
	}
	results := make([]result, *n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			resp, err := client.Get(*url)
			if err != nil {
				results[i].err = err
				return
			}
			defer resp.Body.Close()
			results[i].status = resp.StatusCode
			results[i].body, results[i].err = io.ReadAll(resp.Body)
		}(i)
	}
	close(start)
	wg.Wait()

	statuses := map[int]int{}
	bodies := map[string]int{}
	var first []byte
	errs, failed := 0, 0
	for _, r := range results {
		if r.err != nil {
			errs++
			failed++
			fmt.Fprintln(os.Stderr, "fetchmany: error:", r.err)
			continue
		}
		statuses[r.status]++
		if r.status != *want {
			failed++
			continue
		}
		if first == nil {
			first = r.body
		}
		bodies[string(r.body)]++
	}
	var codes []int
	for c := range statuses {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	fmt.Printf("requests=%d\n", *n)
	for _, c := range codes {
		fmt.Printf("status_%d=%d\n", c, statuses[c])
	}
	fmt.Printf("errors=%d\n", errs)
	fmt.Printf("distinct_bodies=%d\n", len(bodies))
	if len(bodies) == 1 {
		sum := sha256.Sum256(first)
		fmt.Printf("sha256=%s\nbytes=%d\n", hex.EncodeToString(sum[:]), len(first))
	} else {
		for b, k := range bodies {
			sum := sha256.Sum256([]byte(b))
			fmt.Fprintf(os.Stderr, "fetchmany: body sha256=%s bytes=%d count=%d\n", hex.EncodeToString(sum[:]), len(b), k)
		}
	}
	if *bodyOut != "" && first != nil {
		if err := os.WriteFile(*bodyOut, first, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "fetchmany:", err)
			os.Exit(1)
		}
	}
	if failed > 0 || len(bodies) > 1 {
		os.Exit(1)
	}
}
