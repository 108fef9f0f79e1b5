// Command provisioner gives the local test cluster dynamic PersistentVolumes: for each claim of its
// StorageClass it makes a directory under -root (mode 0777, so a non-root PostgreSQL can write it)
// and a hostPath PV pinned to the node the scheduler chose. Deleting a PV removes its directory.
// It runs as a host process beside the kubelet, with the admin kubeconfig.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v11/controller"
)

const provisionerName = "kubectl-pgbackrest.dev/hostpath"

type hostPathProvisioner struct {
	root string
}

func (p *hostPathProvisioner) Provision(_ context.Context, opts controller.ProvisionOptions) (*corev1.PersistentVolume, controller.ProvisioningState, error) {
	if opts.SelectedNode == nil {
		return nil, controller.ProvisioningFinished, errors.New("no node selected: the StorageClass must use volumeBindingMode WaitForFirstConsumer")
	}
	dir := filepath.Join(p.root, opts.PVName)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, controller.ProvisioningInBackground, fmt.Errorf("creating %s: %w", dir, err)
	}
	// MkdirAll honours the umask; the volume must be writable by any pod user.
	if err := os.Chmod(dir, 0o777); err != nil {
		return nil, controller.ProvisioningInBackground, fmt.Errorf("chmod %s: %w", dir, err)
	}
	hostPathType := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: opts.PVName},
		Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: *opts.StorageClass.ReclaimPolicy,
			AccessModes:                   opts.PVC.Spec.AccessModes,
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: opts.PVC.Spec.Resources.Requests[corev1.ResourceStorage]},
			VolumeMode:                    opts.PVC.Spec.VolumeMode,
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &hostPathType},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn,
					Values: []string{opts.SelectedNode.Labels["kubernetes.io/hostname"]},
				}}}},
			}},
		},
	}
	return pv, controller.ProvisioningFinished, nil
}

func (p *hostPathProvisioner) Delete(_ context.Context, pv *corev1.PersistentVolume) error {
	if pv.Spec.HostPath == nil || filepath.Dir(pv.Spec.HostPath.Path) != p.root {
		return &controller.IgnoredError{Reason: "not a volume of this provisioner's root"}
	}
	return os.RemoveAll(pv.Spec.HostPath.Path)
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "path to the kubeconfig")
	root := flag.String("root", "", "directory that holds the volumes")
	klog.InitFlags(nil)
	flag.Parse()
	if *root == "" || *kubeconfig == "" {
		klog.Fatal("-root and -kubeconfig are required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Fatalf("loading kubeconfig: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		klog.Fatalf("building client: %v", err)
	}
	if err := os.MkdirAll(*root, 0o755); err != nil {
		klog.Fatalf("creating %s: %v", *root, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	pc := controller.NewProvisionController(ctx, cs, provisionerName, &hostPathProvisioner{root: *root},
		controller.LeaderElection(false))
	pc.Run(ctx)
}
