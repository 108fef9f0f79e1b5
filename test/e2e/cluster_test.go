//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// restrictedPod is the pod-level security context every pod of this project uses.
const restrictedPod = `
      securityContext:
        runAsNonRoot: true
        runAsUser: 999
        runAsGroup: 999
        fsGroup: 999
        seccompProfile: {type: RuntimeDefault}`

const restrictedContainer = `
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}`

// TestLocalCluster proves the local cluster before the plugin relies on it: the image runs
// PostgreSQL on a dynamically provisioned volume, exec works, Services resolve and route, Jobs
// complete, and pods reach the S3 server over TLS trusting only the test CA.
func TestLocalCluster(t *testing.T) {
	image := labImage(t)
	ns := newNamespace(t, "cluster")

	ns.apply(fmt.Sprintf(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Service
metadata: {name: pg}
spec:
  selector: {app: pg}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: pg}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: pg}}
  template:
    metadata: {labels: {app: pg}}
    spec:%s
      containers:
      - name: postgres
        image: %s
        imagePullPolicy: IfNotPresent%s
        command: [/bin/sh, -c]
        args:
        - |
          set -e
          if [ ! -s /pgdata/pg17/PG_VERSION ]; then
            initdb -D /pgdata/pg17 --auth-local=peer --auth-host=trust >/dev/null
            echo 'host all all all trust' >>/pgdata/pg17/pg_hba.conf
          fi
          exec postgres -D /pgdata/pg17 -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql
        readinessProbe:
          exec: {command: [pg_isready, -h, /var/run/postgresql]}
          periodSeconds: 2
        volumeMounts:
        - {name: data, mountPath: /pgdata}
        - {name: run, mountPath: /var/run/postgresql}
      volumes:
      - {name: data, persistentVolumeClaim: {claimName: data}}
      - {name: run, emptyDir: {}}
`, restrictedPod, image, restrictedContainer))
	ns.kubectl(3*time.Minute, "rollout", "status", "deployment/pg", "--timeout=150s")

	out := ns.kubectl(time.Minute, "exec", "deploy/pg", "--", "psql", "-h", "/var/run/postgresql", "-Atc",
		"select current_user || ' ' || current_setting('server_version_num')")
	if got := strings.TrimSpace(out); !strings.HasPrefix(got, "postgres 17") {
		t.Fatalf("exec psql printed %q, want the postgres user on PostgreSQL 17 (labImage)", got)
	}

	// A Job in another pod reaches PostgreSQL by Service name (DNS + kube-proxy) and completes. It
	// retries for a minute, as a real client would: the pod just became ready, and its address may
	// reach the Service's EndpointSlice and kube-proxy's rules a moment later.
	ns.apply(fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata: {name: client}
spec:
  backoffLimit: 0
  template:
    spec:%s
      restartPolicy: Never
      containers:
      - name: psql
        image: %s
        imagePullPolicy: IfNotPresent%s
        command: %s
`, restrictedPod, image, restrictedContainer, clientCommand(time.Minute,
		"psql", "host=pg."+ns.Name+".svc.cluster.local user=postgres dbname=postgres connect_timeout=5", "-Atc", "select 40 + 2")))
	jobThroughService(t, ns, "client", "PostgreSQL through its Service", "42")

	// A pod reaches the S3 server through its Service name over TLS, trusting only the test CA:
	// pgBackRest lists the bucket. Credentials come from a Secret, as the plugin's pods get them.
	ca, err := os.ReadFile(env(t, "PGBR_S3_CA"))
	if err != nil {
		t.Fatal(err)
	}
	// Through stdin, so the credentials never show on a command line or in the test log.
	ns.apply(fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata: {name: s3}\nstringData: {key: %q, key-secret: %q, ca.crt: %q}\n",
		env(t, "PGBR_S3_KEY"), env(t, "PGBR_S3_KEY_SECRET"), string(ca)))
	ns.apply(fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata: {name: s3}
spec:
  backoffLimit: 0
  template:
    spec:%s
      restartPolicy: Never
      containers:
      - name: pgbackrest
        image: %s
        imagePullPolicy: IfNotPresent%s
        command: %s
        env:
        - {name: PGBACKREST_REPO1_S3_KEY, valueFrom: {secretKeyRef: {name: s3, key: key}}}
        - {name: PGBACKREST_REPO1_S3_KEY_SECRET, valueFrom: {secretKeyRef: {name: s3, key: key-secret}}}
        volumeMounts: [{name: ca, mountPath: /ca}]
      volumes: [{name: ca, secret: {secretName: s3, items: [{key: ca.crt, path: ca.crt}]}}]
`, restrictedPod, image, restrictedContainer, clientCommand(time.Minute,
		"pgbackrest", "--repo1-type=s3", "--repo1-s3-bucket="+env(t, "PGBR_S3_BUCKET"), "--repo1-s3-endpoint="+env(t, "PGBR_S3_ENDPOINT"),
		"--repo1-s3-region="+env(t, "PGBR_S3_REGION"), "--repo1-s3-uri-style=path", "--repo1-s3-ca-file=/ca/ca.crt",
		"--repo1-path=/", "--io-timeout=10", "--log-level-console=warn", "--log-level-file=off", "repo-ls")))
	jobThroughService(t, ns, "s3", "pgbackrest repo-ls against S3", "")
}

// jobThroughService waits for a client Job made with clientCommand to complete and, when want is
// not empty, checks the last line of its log. On failure the log says what the last attempt saw.
func jobThroughService(t *testing.T, ns *Namespace, job, what, want string) {
	t.Helper()
	r := run(t, "", 3*time.Minute, "kubectl", "-n", ns.Name, "wait", "--for=condition=complete", "job/"+job, "--timeout=150s")
	logs := run(t, "", time.Minute, "kubectl", "-n", ns.Name, "logs", "job/"+job)
	if r.Code != 0 {
		t.Fatalf("%s: job %s did not complete: %s%s\nlog:\n%s%s", what, job, r.Stdout, r.Stderr, logs.Stdout, logs.Stderr)
	}
	if strings.Contains(logs.Stdout, "succeeded at attempt") {
		t.Logf("%s needed retries:\n%s", what, logs.Stdout)
	}
	if want != "" && lastLine(logs.Stdout) != want {
		t.Fatalf("%s: job %s printed %q, want %s as its last line", what, job, logs.Stdout, want)
	}
}
