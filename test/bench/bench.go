package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
)

// bench holds what every phase uses: the configuration, a client for the cluster, the plugin and
// the host's own PostgreSQL with pgBackRest.
type bench struct {
	cfg    Config
	rest   *rest.Config
	client kubernetes.Interface
	plugin Command // runs `kubectl pgbackrest` and kubectl
	direct *Direct
}

func newBench(cfg Config) (*bench, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	rc.QPS, rc.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	return &bench{cfg: cfg, rest: rc, client: cs, plugin: Command{Env: []string{"NO_COLOR=1"}}}, nil
}

// kpg runs `kubectl pgbackrest ARGS` in the bench namespace, the way a user types it.
func (b *bench) kpg(ctx context.Context, args ...string) (Output, error) {
	return b.plugin.Run(ctx, "kubectl", append([]string{"pgbackrest", "-n", b.cfg.Namespace}, args...)...)
}

// psql runs one statement in the cluster's primary and returns its unaligned output.
func (b *bench) psql(ctx context.Context, sql string) (string, error) {
	return b.psqlIn(ctx, b.cfg.Namespace, b.cfg.Cluster, sql)
}

// psqlIn runs one statement in the primary of cluster c in namespace ns.
func (b *bench) psqlIn(ctx context.Context, ns, c, sql string) (string, error) {
	out, err := b.plugin.Run(ctx, "kubectl", "-n", ns, "exec", "deploy/"+c, "-c", "postgres", "--",
		"psql", "-h", "/var/run/postgresql", "-v", "ON_ERROR_STOP=1", "-Atc", sql)
	return strings.TrimSpace(out.Stdout), err
}

// recordPodVersions records the image the cluster's pods run (with its image ID when the
// runtime reports one) and the repository host's `pgbackrest version`, once per bench run: every
// figure then says what it was measured with (issue 14).
func (b *bench) recordPodVersions(ctx context.Context, res *Results, ns, c string) {
	if _, ok := res.Versions["pgbackrest (pod)"]; ok {
		return
	}
	repoHost := cluster.Names{Cluster: c}.RepoHost()
	image := b.cfg.Image
	if pods, err := b.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{}); err == nil {
	find:
		for _, p := range pods.Items {
			for _, cs := range p.Status.ContainerStatuses {
				if cs.Name == manifest.ContainerPGBackRest && cs.ImageID != "" {
					image += " (" + cs.ImageID + ")"
					break find
				}
			}
		}
	}
	res.Versions["image"] = image
	out, err := b.plugin.Run(ctx, "kubectl", "-n", ns, "exec", "deploy/"+repoHost, "-c", manifest.ContainerPGBackRest, "--", "pgbackrest", "version")
	if err != nil {
		logf("warning: reading pgbackrest version in %s/%s: %v", ns, repoHost, err)
		return
	}
	res.Versions["pgbackrest (pod)"] = strings.TrimSpace(out.Stdout)
}

func (b *bench) setup(ctx context.Context, res *Results) error {
	needCluster := b.cfg.runs("backup") || b.cfg.runs("restore") || b.cfg.runs("latency") || b.cfg.runs("api")
	needHost := b.cfg.runs("backup") || b.cfg.runs("tar")
	res.Versions = map[string]string{}
	if v, err := b.client.Discovery().ServerVersion(); err == nil {
		res.Versions["kubernetes"] = v.GitVersion
	}
	if out, err := b.plugin.Run(ctx, "kubectl-pgbackrest", "version", "-o", "json"); err == nil {
		var v struct{ Version, Commit string }
		if json.Unmarshal([]byte(out.Stdout), &v) == nil {
			res.Versions["kubectl-pgbackrest"] = v.Version
		}
	}
	if needCluster {
		if err := b.createCluster(ctx, res); err != nil {
			return fmt.Errorf("setting up cluster %s/%s: %w", b.cfg.Namespace, b.cfg.Cluster, err)
		}
	}
	if needHost {
		d, err := NewDirect(ctx, b.cfg)
		if err != nil {
			return fmt.Errorf("setting up PostgreSQL and pgBackRest on this machine: %w", err)
		}
		b.direct = d
		res.Versions["pgbackrest (host)"] = d.Version
	}
	return nil
}

// createCluster starts from an empty namespace and S3 path, creates the cluster with local and s3
// repositories and fills it with pgbench.
func (b *bench) createCluster(ctx context.Context, res *Results) error {
	ns := b.cfg.Namespace
	if err := b.freshNamespace(ctx, ns); err != nil {
		return err
	}
	// A new cluster of the same name must not meet the previous run's stanza in the bucket.
	if err := os.RemoveAll(filepath.Join(b.cfg.S3.DataDir, b.cfg.S3.Bucket, "backrestrepo", b.cfg.Cluster+"-backrest-shared-repo")); err != nil {
		return err
	}
	s3 := b.plugin
	s3.Env = append(s3.Env, "AWS_ACCESS_KEY_ID="+b.cfg.S3.Key, "AWS_SECRET_ACCESS_KEY="+b.cfg.S3.KeySecret)
	if _, err := s3.Run(ctx, "kubectl", "pgbackrest", "-n", ns, "s3", "configure", "--bucket", b.cfg.S3.Bucket,
		"--endpoint", b.cfg.S3.Endpoint, "--region", b.cfg.S3.Region, "--uri-style", "path",
		"--ca-bundle", b.cfg.S3.CA, "--key-from-env"); err != nil {
		return err
	}
	logf("creating cluster %s/%s (local,s3)", ns, b.cfg.Cluster)
	size := fmt.Sprintf("%dGi", 2+b.cfg.Scale/10)
	if _, err := b.kpg(ctx, "create", b.cfg.Cluster, "--storage=local,s3", "--image", b.cfg.Image, "--pg-version", b.cfg.PGVersion,
		"--pgdata-size", size, "--repo-size", size); err != nil {
		return err
	}
	logf("pgbench -i -s %d in the primary", b.cfg.Scale)
	out, err := b.plugin.Run(ctx, "kubectl", "-n", ns, "exec", "deploy/"+b.cfg.Cluster, "-c", "postgres", "--",
		"pgbench", "-i", "-q", "-s", strconv.Itoa(b.cfg.Scale), "-h", "/var/run/postgresql", "postgres")
	if err != nil {
		return err
	}
	logf("pgbench -i took %s", out.Wall.Round(time.Second))
	v, err := b.psql(ctx, "show server_version")
	if err != nil {
		return err
	}
	res.Versions["postgresql (pod)"] = v
	b.recordPodVersions(ctx, res, ns, b.cfg.Cluster)
	v, err = b.psql(ctx, "select pg_database_size('postgres')")
	if err != nil {
		return err
	}
	res.PostgresDatabaseBytes, _ = strconv.ParseUint(v, 10, 64)
	return nil
}

// freshNamespace deletes ns (and waits until it is gone) and creates it again with the
// "restricted" Pod Security Standard, as the e2e tests do.
func (b *bench) freshNamespace(ctx context.Context, ns string) error {
	nsc := b.client.CoreV1().Namespaces()
	if err := nsc.Delete(ctx, ns, metav1.DeleteOptions{}); err == nil {
		logf("deleting the previous run's namespace %s", ns)
		b.forceDeletePods(ctx, ns)
	} else if !apierrors.IsNotFound(err) {
		return err
	}
	if err := b.waitGone(ctx, ns); err != nil {
		return err
	}
	_, err := nsc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "app.kubernetes.io/part-of": "kubectl-pgbackrest-bench"}}},
		metav1.CreateOptions{})
	return err
}

func (b *bench) waitGone(ctx context.Context, ns string) error {
	w, err := b.client.CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + ns})
	if err != nil {
		return err
	}
	defer w.Stop()
	if _, err := b.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return nil
	}
	timeout := time.After(5 * time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return b.waitGone(ctx, ns)
			}
			if ev.Type == "DELETED" {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("namespace %s still there after 5 minutes", ns)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// cleanup stops the host PostgreSQL and, unless BENCH_KEEP is set, deletes the bench namespaces.
func (b *bench) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if b.direct != nil {
		b.direct.Stop(ctx)
	}
	if os.Getenv("BENCH_KEEP") != "" {
		logf("BENCH_KEEP is set: namespaces %s and %s are kept", b.cfg.Namespace, b.cfg.ListNS)
		return
	}
	for _, ns := range []string{b.cfg.Namespace, b.cfg.ListNS} {
		_ = b.client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		b.forceDeletePods(ctx, ns)
	}
}

// forceDeletePods removes the pods of a namespace being deleted (so none is recreated) at once.
// Deleting the namespace alone lets the repository host go first, and PostgreSQL's shutdown then
// waits its whole grace period on an archiver retrying against it; the bench's data is throwaway.
func (b *bench) forceDeletePods(ctx context.Context, ns string) {
	zero := int64(0)
	_ = b.client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
}
