// Command pwflood plays a client that guesses passwords: -conns keep-alive
// connections, each from its own loopback address (127.0.0.2, 127.0.0.3,
// ..., so that a per-address limit does not stop them all), send GET -url
// with "Authorization: Basic USER:<random>" one after the other for
// -duration, and a count of each status seen is printed at the end:
//
//	requests=N
//	status_401=K   (one line per status code seen, sorted)
//	errors=E       (transport errors)
//
// A refused guess (429 or 503) is retried after -backoff, as a patient
// attacker would.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	url := flag.String("url", "", "URL to fetch")
	user := flag.String("user", "alice", "user name to guess passwords for")
	conns := flag.Int("conns", 64, "concurrent connections, one per source address")
	duration := flag.Duration("duration", 10*time.Second, "how long to keep guessing")
	backoff := flag.Duration("backoff", 50*time.Millisecond, "pause after a 429 or 503")
	flag.Parse()
	if *url == "" || *conns < 1 || *conns > 250 || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: pwflood -url URL [-user alice] [-conns 64] [-duration 10s] [-backoff 50ms]")
		os.Exit(2)
	}
	var mu sync.Mutex
	counts := map[int]int{}
	requests, errors := 0, 0
	end := time.Now().Add(*duration)
	var wg sync.WaitGroup
	for i := 0; i < *conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}}
			c := &http.Client{
				Timeout:   30 * time.Second,
				Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1},
			}
			for time.Now().Before(end) {
				guess := make([]byte, 12)
				rand.Read(guess)
				req, _ := http.NewRequest("GET", *url, nil)
				req.SetBasicAuth(*user, hex.EncodeToString(guess))
				resp, err := c.Do(req)
				mu.Lock()
				requests++
				if err != nil {
					errors++
				} else {
					counts[resp.StatusCode]++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(*backoff)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 429 || resp.StatusCode == 503 {
					time.Sleep(*backoff)
				}
			}
		}(i)
	}
	wg.Wait()
	fmt.Printf("requests=%d\n", requests)
	var codes []int
	for k := range counts {
		codes = append(codes, k)
	}
	sort.Ints(codes)
	for _, k := range codes {
		fmt.Printf("status_%d=%d\n", k, counts[k])
	}
	fmt.Printf("errors=%d\n", errors)
}
