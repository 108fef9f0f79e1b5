package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/create"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/pgbackrest"
)

// APIRow is what one plugin command asked of the API server, counted by a proxy between them.
type APIRow struct {
	Command  string  `json:"command"`
	Clusters int     `json:"clusters,omitempty"`
	Requests Summary `json:"requests"`
	// ByKind counts the requests of the last run by verb and resource ("list configmaps").
	ByKind map[string]int `json:"byKind"`
	WallMs Summary        `json:"wallMs"`
}

// countingProxy forwards every request of the plugin to the API server (with the bench's own
// credentials) and counts them. The plugin talks plain HTTP to it on 127.0.0.1: it needs no
// change and cannot tell, and exec's upgraded streams pass through.
type countingProxy struct {
	URL    string
	srv    *http.Server
	mu     sync.Mutex
	counts map[string]int
}

func startProxy(rc *rest.Config) (*countingProxy, error) {
	cfg := rest.CopyConfig(rc)
	// Upgrades (exec over SPDY) need HTTP/1.1 to the API server.
	cfg.TLSClientConfig.NextProtos = []string{"http/1.1"}
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target); r.Out.Host = target.Host },
		Transport:     rt,
		FlushInterval: -1, // watches and logs stream
	}
	p := &countingProxy{counts: map[string]int{}}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[classify(r)]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.URL = "http://" + ln.Addr().String()
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// take returns the counts since the last take and starts again from zero.
func (p *countingProxy) take() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.counts
	p.counts = map[string]int{}
	return c
}

func (p *countingProxy) close() { _ = p.srv.Close() }

// kubeconfig writes a kubeconfig that points at the proxy.
func (p *countingProxy) kubeconfig(dir string) (string, error) {
	path := filepath.Join(dir, "proxy.kubeconfig")
	conf := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: counting-proxy, cluster: {server: %q}}]
users: [{name: counting-proxy, user: {}}]
contexts: [{name: counting-proxy, context: {cluster: counting-proxy, user: counting-proxy}}]
current-context: counting-proxy
`, p.URL)
	return path, os.WriteFile(path, []byte(conf), 0o600)
}

// classify names a request by verb and resource: "list configmaps", "get pods", "watch jobs",
// "create pods/exec", "patch configmaps"; anything else (discovery) by method and path.
func classify(r *http.Request) string {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return r.Method + " " + r.URL.Path
	}
	if len(rest) >= 3 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	resource, named := rest[0], len(rest) >= 2
	if len(rest) >= 3 {
		resource += "/" + rest[2]
	}
	verb := map[string]string{http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete"}[r.Method]
	if r.Method == http.MethodGet {
		switch {
		case r.URL.Query().Get("watch") == "true" || r.URL.Query().Get("watch") == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	}
	if strings.HasSuffix(resource, "/exec") {
		verb = "exec" // GET (WebSocket) or POST (SPDY), one stream either way
	}
	if verb == "" {
		verb = r.Method
	}
	return verb + " " + resource
}

func total(counts map[string]int) float64 {
	n := 0
	for _, c := range counts {
		n += c
	}
	return float64(n)
}

func (b *bench) measureAPI(ctx context.Context, res *Results) error {
	proxy, err := startProxy(b.rest)
	if err != nil {
		return err
	}
	defer proxy.close()
	dir, err := os.MkdirTemp("", "pgbr-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kc, err := proxy.kubeconfig(dir)
	if err != nil {
		return err
	}
	counted := Command{Env: []string{"NO_COLOR=1", "KUBECONFIG=" + kc}}
	if err := b.freshNamespace(ctx, b.cfg.ListNS); err != nil {
		return err
	}
	made := 0
	for _, n := range b.cfg.ListSizes {
		if err := b.makePodlessClusters(ctx, made, n); err != nil {
			return err
		}
		made = n
		row, err := b.countRuns(ctx, proxy, counted, b.cfg.Runs, "kubectl-pgbackrest", "-n", b.cfg.ListNS, "list")
		if err != nil {
			return err
		}
		row.Command, row.Clusters = "list", n
		logf("list with %d clusters: %s requests, %s ms", n, row.Requests.Format(0), row.WallMs.Format(0))
		res.API = append(res.API, row)
	}
	for _, c := range []struct {
		label string
		args  []string
	}{
		{"backup --storage=local --type=full", []string{"backup", b.cfg.Cluster, "--storage=local", "--type=full"}},
		{"backup --storage=s3 --type=incr", []string{"backup", b.cfg.Cluster, "--storage=s3", "--type=incr"}},
		{"info", []string{"info", b.cfg.Cluster}},
		{"restore --yes (end of archive, from local)", []string{"restore", b.cfg.Cluster, "--yes", "--storage=local"}},
	} {
		row, err := b.countRuns(ctx, proxy, counted, 1, "kubectl-pgbackrest", append([]string{"-n", b.cfg.Namespace}, c.args...)...)
		if err != nil {
			return err
		}
		row.Command = c.label
		logf("%s: %s requests", c.label, row.Requests.Format(0))
		res.API = append(res.API, row)
	}
	// status: its wall time (it must read in under a second) and what it asks, execs included
	// (exec pods/exec), on the cluster the backups and the restore above left. It exits 4 when it
	// finds the bench cluster unhealthy: still a reading.
	srow, err := b.countRuns(ctx, proxy, counted, b.cfg.Runs, "sh", "-c", `kubectl-pgbackrest "$@" || [ $? = 4 ]`, "sh",
		"-n", b.cfg.Namespace, "status", b.cfg.Cluster)
	if err != nil {
		return err
	}
	srow.Command = "status"
	logf("status: %s requests, %s ms", srow.Requests.Format(0), srow.WallMs.Format(0))
	res.API = append(res.API, srow)
	return nil
}

// countRuns runs the plugin runs times through the proxy and summarizes requests and wall time.
func (b *bench) countRuns(ctx context.Context, proxy *countingProxy, cmd Command, runs int, name string, args ...string) (APIRow, error) {
	var reqs, wall []float64
	var last map[string]int
	proxy.take()
	for i := 0; i < runs; i++ {
		out, err := cmd.Run(ctx, name, args...)
		if err != nil {
			return APIRow{}, err
		}
		last = proxy.take()
		reqs = append(reqs, total(last))
		wall = append(wall, float64(out.Wall.Microseconds())/1000)
	}
	return APIRow{Requests: Summarize(reqs), ByKind: last, WallMs: Summarize(wall)}, nil
}

// makePodlessClusters adds clusters from..to-1 to the list namespace: each a cluster ConfigMap
// marked created and a primary Deployment scaled to zero, so list has both to read but nothing
// runs.
func (b *bench) makePodlessClusters(ctx context.Context, from, to int) error {
	ns := b.cfg.ListNS
	start := time.Now()
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := from; i < to; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := b.makePodlessCluster(ctx, ns, fmt.Sprintf("c%04d", i)); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("making pod-less clusters in %s: %w", ns, err)
	}
	logf("made clusters %d–%d in %s (%s)", from+1, to, ns, time.Since(start).Round(time.Millisecond))
	return nil
}

func (b *bench) makePodlessCluster(ctx context.Context, ns, name string) error {
	spec := create.NewSpec(create.Config{Name: name, Namespace: ns, Storages: []pgbackrest.Storage{pgbackrest.Local}, Image: b.cfg.Image}, cluster.S3{})
	dbConf, repoConf, err := create.Render(spec)
	if err != nil {
		return err
	}
	cm, err := manifest.ConfigMap(spec, dbConf, repoConf)
	if err != nil {
		return err
	}
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[create.AnnotationCreatedAt] = time.Now().UTC().Format(time.RFC3339)
	dep := manifest.PrimaryDeployment(spec)
	zero := int32(0)
	dep.Spec.Replicas = &zero
	if _, err := b.client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if _, err := b.client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// sortedKinds lists ByKind as "n× kind", most frequent first.
func sortedKinds(byKind map[string]int) []string {
	kinds := slices.Collect(maps.Keys(byKind))
	slices.SortFunc(kinds, func(a, b string) int {
		if byKind[a] != byKind[b] {
			return byKind[b] - byKind[a]
		}
		return strings.Compare(a, b)
	})
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = fmt.Sprintf("%d× %s", byKind[k], k)
	}
	return out
}
