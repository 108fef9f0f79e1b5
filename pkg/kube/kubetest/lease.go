// Package kubetest holds helpers for tests of code that uses pkg/kube with client-go's fake
// clientset. Only tests import it.
package kubetest

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

var leases = coordinationv1.SchemeGroupVersion.WithResource("leases")

// KeepRenewing makes the holder of Lease ns/name alive, as another run that renews it: until the
// test ends, its renew time moves on every millisecond, unless the Lease is gone or its holder
// is except (the run under test). Watchers of the Lease see each renewal.
func KeepRenewing(t testing.TB, cs *fake.Clientset, ns, name, except string) {
	t.Helper()
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			obj, err := cs.Tracker().Get(leases, ns, name)
			if err != nil {
				continue
			}
			l := obj.(*coordinationv1.Lease).DeepCopy()
			if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == except || l.Spec.RenewTime == nil {
				continue
			}
			rt := metav1.NewMicroTime(l.Spec.RenewTime.Add(time.Second))
			l.Spec.RenewTime = &rt
			_ = cs.Tracker().Update(leases, l, ns)
		}
	}()
}
