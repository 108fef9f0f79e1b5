package deletecmd

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/cluster"
	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/manifest"
)

// delete, even with --delete-data, keeps an encrypted cluster's passphrase: the S3 backups
// outlive the cluster and are unreadable without it.
func TestDeleteKeepsCipherSecret(t *testing.T) {
	for _, data := range []bool{false, true} {
		o, cs, _, _ := newOptions(t, "", false)
		spec := cluster.New("pg1", ns)
		if _, err := cs.CoreV1().Secrets(ns).Create(context.Background(), manifest.CipherSecret(spec, []byte("pass")), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		o.DeleteData, o.Yes = data, true
		if err := o.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := cs.CoreV1().Secrets(ns).Get(context.Background(), "pg1-pgbackrest-cipher", metav1.GetOptions{}); err != nil {
			t.Errorf("--delete-data=%v deleted the cipher Secret: %v", data, err)
		}
		if _, err := cs.CoreV1().Secrets(ns).Get(context.Background(), "pg1-pgbackrest-tls", metav1.GetOptions{}); err == nil {
			t.Errorf("--delete-data=%v: the TLS Secret is still there (the delete did not run?)", data)
		}
	}
}
