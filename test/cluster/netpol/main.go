// Command netpol enforces NetworkPolicies on the local test cluster's node. The bridge CNI enforces
// none, so this runs the controller of sigs.k8s.io/kube-network-policies as a host daemon: it reads
// the first packet of each new connection from an nfqueue and accepts or drops it by the policies.
//
// The controller also writes nftables rules that feed the queue, but this machine's kernel has no
// nftables queue expression (CONFIG_NFT_QUEUE is not set, and there are no modules), so those
// writes fail; the iptables NFQUEUE target is built in, and netpol_queue_up (common.sh) feeds the
// queue with it instead. The controller's failing nftables syncs are left out of the log here.
//
// Its own main reads only an in-cluster config; this one takes the cluster's kubeconfig and stops
// on SIGTERM (stop_daemon) as well as SIGINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/go-logr/logr"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"k8s.io/klog/v2/textlogger"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the cluster")
	node := flag.String("node", "", "name of this node (the kubelet's --hostname-override)")
	queue := flag.Int("nfqueue-id", 100, "nfqueue number")
	verbosity := flag.Int("v", 0, "log verbosity (2 logs every verdict)")
	flag.Parse()
	tc := textlogger.NewConfig(textlogger.Verbosity(*verbosity))
	klog.SetLogger(logr.New(quiet{textlogger.NewLogger(tc).GetSink()}))
	if err := run(*kubeconfig, *node, *queue); err != nil {
		fmt.Fprintln(os.Stderr, "netpol:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, node string, queue int) error {
	if kubeconfig == "" || node == "" {
		return fmt.Errorf("-kubeconfig and -node are required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("reading %s: %w", kubeconfig, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	factory := informers.NewSharedInformerFactory(cs, 0)
	c, err := networkpolicy.NewController(cs,
		factory.Networking().V1().NetworkPolicies(), factory.Core().V1().Namespaces(), factory.Core().V1().Pods(),
		nil, nil, nil, nil,
		networkpolicy.Config{
			// Fail open: if this daemon dies, the queue lets packets through rather than cutting
			// every selected pod off; probe.sh notices that policies are no longer enforced.
			FailOpen: true,
			QueueID:  queue,
			NodeName: node,
			// The kernel here is 6.12 or later: netfilter bug 1766 is fixed.
			NetfilterBug1766Fix: false,
			// NRI stays on although containerd serves no NRI socket here (its Run just fails and
			// logs): with it off, v0.8.0 dereferences a nil plugin for every address that is no
			// known pod's (the node's, a pod too new for the API), and the daemon dies.
			NRIdisabled: false,
		})
	if err != nil {
		return fmt.Errorf("starting the network policy controller: %w", err)
	}
	factory.Start(ctx.Done())
	// Run removes its nftables table when ctx ends.
	return c.Run(ctx)
}

// quiet drops the log lines of the controller's nftables syncs, which fail on this kernel every
// time a pod or policy changes (see the package comment).
type quiet struct{ logr.LogSink }

func noise(msg string, kv []any) bool {
	switch msg {
	case "Syncing nftables rules", "syncing nftables rules", "syncing", "Dropping out of the queue":
		return true
	case "Unhandled Error":
		return strings.Contains(fmt.Sprint(kv...), "netlink")
	}
	return false
}

func (q quiet) Info(level int, msg string, kv ...any) {
	if !noise(msg, kv) {
		q.LogSink.Info(level, msg, kv...)
	}
}

func (q quiet) Error(err error, msg string, kv ...any) {
	if !noise(msg, append(kv, err)) {
		q.LogSink.Error(err, msg, kv...)
	}
}

func (q quiet) WithValues(kv ...any) logr.LogSink { return quiet{q.LogSink.WithValues(kv...)} }
func (q quiet) WithName(name string) logr.LogSink { return quiet{q.LogSink.WithName(name)} }
