package create

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/kube"
)

// StuckError is a wait of create that cannot end by itself (kube.StuckError), with the create
// command that fixes it. Run returns it as it is, not inside workflow's StepError, whose "re-run
// the same command to resume" would only stop the same way again.
type StuckError struct {
	Err *kube.StuckError
	// Hint says what to run, for this cluster.
	Hint string
}

func (e *StuckError) Error() string {
	if e.Hint == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + "\n" + e.Hint
}

func (e *StuckError) Unwrap() error { return e.Err }

// stuckHint names the create flags that fix what made a wait stuck.
func (w *run) stuckHint(e *kube.StuckError) string {
	name, ns := w.spec.Name, w.ns()
	switch e.Cause {
	case kube.CauseImage:
		return fmt.Sprintf("then: kubectl pgbackrest create %s -n %s --image IMAGE (with the same --storage): a create that has "+
			"not finished takes the image given again", name, ns)
	case kube.CauseStorageClass:
		return fmt.Sprintf("for this cluster: kubectl pgbackrest delete %s -n %s --delete-data (nothing is stored on its volumes yet), "+
			"then create it again with --storage-class set to a class that exists, or without it for the default class", name, ns)
	case kube.CauseAdmission:
		if refusesUser(e.Reason + " " + e.Detail) {
			// The uid is fixed at create (the data directory will belong to it), so a re-run keeps it.
			return fmt.Sprintf("for this cluster: kubectl pgbackrest delete %s -n %s --delete-data (its pods never ran), then create it "+
				"again with --run-as-user set to a uid the namespace admits (pods now run as %d, fsGroup %d; see docs/openshift.md)",
				name, ns, w.spec.PodUser().RunAsUser, w.spec.PodUser().FSGroup)
		}
	}
	return "then re-run the same command"
}

// refusesUser says whether an admission refusal is about the pods' uid or fsGroup.
func refusesUser(msg string) bool {
	for _, w := range []string{"runAsUser", "fsGroup", "uid", "UID"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}

// ErrNoStorageClass is wrapped by the error for a --storage-class that does not exist.
var ErrNoStorageClass = errors.New("no such StorageClass")

// checkStorageClass makes sure the StorageClass exists before anything is created: a PVC of a
// class that does not exist stays Pending for ever, and its class cannot be changed afterwards.
// StorageClasses are cluster-scoped and the namespaced Role does not grant reading them, so a
// refused Get proves nothing and lets create go on (the wait then reads the PV controller's
// events). "" is the cluster's default class.
func checkStorageClass(ctx context.Context, cs kubernetes.Interface, class string) error {
	if class == "" {
		return nil
	}
	_, err := cs.StorageV1().StorageClasses().Get(ctx, class, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: --storage-class %s: see the classes that exist with `kubectl get storageclass`, and pass one of them "+
			"(or leave --storage-class out for the cluster's default); nothing was created", ErrNoStorageClass, class)
	}
	return nil // found, or not allowed to look, or the API had a hiccup: the wait explains the PVC
}
