package rotate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubectl-pgbackrest/kubectl-pgbackrest/pkg/certs"
)

func TestReadCertStatus(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset(clusterObjects(t)...) // certificates made 300 days before t0
	st, err := ReadCertStatus(ctx, cs, "ns", "pg1", t0)
	if err != nil || st == nil {
		t.Fatal(st, err)
	}
	if len(st.Warnings) != 0 {
		t.Errorf("65 days left: warnings %v", st.Warnings)
	}
	st, _ = ReadCertStatus(ctx, cs, "ns", "pg1", t0.Add(40*24*time.Hour))
	if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], "in 25 day(s)") {
		t.Errorf("25 days left: warnings %v", st.Warnings)
	}

	sec := tlsSecret(t, cs)
	setPhase(sec, certs.PhaseIssue)
	if _, err := cs.CoreV1().Secrets("ns").Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, _ = ReadCertStatus(ctx, cs, "ns", "pg1", t0)
	if len(st.Warnings) != 1 || !strings.Contains(st.Warnings[0], `stopped in phase "issue"`) {
		t.Errorf("mid-rotation: warnings %v", st.Warnings)
	}

	if st, err := ReadCertStatus(ctx, cs, "ns", "nosuch", t0); st != nil || err != nil {
		t.Errorf("missing Secret: %v %v", st, err)
	}
	cs.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "pg1-pgbackrest-tls", errors.New("no"))
	})
	if st, err := ReadCertStatus(ctx, cs, "ns", "pg1", t0); st != nil || err != nil {
		t.Errorf("forbidden: %v %v", st, err)
	}
}
