package release

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every action is pinned by a full commit, with the version it was taken from in a comment, and
// one action is pinned to one commit across the workflows (an upgrade changes them all).
func TestActionsArePinnedByCommit(t *testing.T) {
	files, err := filepath.Glob(root + "/.github/workflows/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no workflow in .github/workflows: %v", err)
	}
	usesRE := regexp.MustCompile(`(?m)^\s*(?:-\s+)?uses:\s*(.*)$`)
	pinnedRE := regexp.MustCompile(`^([\w.-]+/[\w./-]+)@([0-9a-f]{40})\s+#\s+v\d+(\.\d+)*\s*$`)
	commits := map[string]string{}
	n := 0
	for _, f := range files {
		for _, m := range usesRE.FindAllStringSubmatch(readFile(t, f), -1) {
			n++
			p := pinnedRE.FindStringSubmatch(m[1])
			if p == nil {
				t.Errorf("%s: uses: %s is not ACTION@<40-hex commit> # vX.Y.Z", filepath.Base(f), m[1])
				continue
			}
			if prev, ok := commits[p[1]]; ok && prev != p[2] {
				t.Errorf("%s: %s is pinned to both %s and %s", filepath.Base(f), p[1], prev, p[2])
			}
			commits[p[1]] = p[2]
		}
	}
	if n == 0 {
		t.Fatal("found no uses: line; the pattern no longer matches the workflows")
	}
}

// Least privilege: nothing at the top level; writing packages and requesting an OIDC token only
// where images are pushed and signed, writing contents only where the release is created.
func TestReleasePermissions(t *testing.T) {
	w := loadWorkflow(t)
	if len(w.Permissions) != 0 {
		t.Errorf("top-level permissions %v; want {} (each job asks for its own)", w.Permissions)
	}
	for name, j := range w.Jobs {
		var uses, runs []string
		for _, s := range j.Steps {
			uses = append(uses, s.Uses)
			runs = append(runs, s.Run)
		}
		all := strings.Join(uses, "\n") + "\n" + strings.Join(runs, "\n")
		need := map[string]string{"contents": "read"}
		if strings.Contains(all, "docker/build-push-action@") {
			need["packages"] = "write"
		} else if strings.Contains(all, "cosign verify") {
			need["packages"] = "read"
		}
		if strings.Contains(all, "cosign sign") {
			need["id-token"] = "write"
		}
		if strings.Contains(all, "gh release create") {
			need["contents"] = "write"
		}
		for scope, got := range j.Permissions {
			if want, ok := need[scope]; !ok || got != want {
				t.Errorf("job %s: permission %s: %s; it needs %q", name, scope, got, want)
			}
		}
		for scope, want := range need {
			if got := j.Permissions[scope]; got != want {
				t.Errorf("job %s: permission %s is %q; it needs %s", name, scope, got, want)
			}
		}
	}
}

// The release notes name every image by digest, the default image of each major, and the cosign
// command of docs/install.md with the identity the workflow signs with.
func TestReleaseNotes(t *testing.T) {
	w := loadWorkflow(t)
	var tsv strings.Builder
	digest := "sha256:" + strings.Repeat("0", 63)
	for i, img := range builtImages(t, w) {
		d := digest + string(rune('a'+i))
		tsv.WriteString(img.Ref + "\t" + d + "\tcarries " + img.Name + "\n")
	}
	images := filepath.Join(t.TempDir(), "images.tsv")
	writeFile(t, images, tsv.String())

	cmd := exec.Command("bash", root+"/krew/release-notes.sh", testVersion, images)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "GO_VERSION=go1.26.8"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("krew/release-notes.sh: %v", err)
	}
	notes := string(out)

	// What the workflow's certificate will name: https://github.com/$GITHUB_WORKFLOW_REF.
	identity := "https://github.com/kubectl-pgbackrest/kubectl-pgbackrest/.github/workflows/" +
		filepath.Base(workflowPath) + "@refs/tags/" + testVersion
	for i, img := range builtImages(t, w) {
		row := "| `" + img.Ref + "` | `" + digest + string(rune('a'+i)) + "` | carries " + img.Name + " |"
		if !strings.Contains(notes, row) {
			t.Errorf("the notes have no row %s:\n%s", row, notes)
		}
		if img.Target == "postgres" {
			line := "- `--pg-version " + img.BuildArgs["PG_MAJOR"] + "`: `" + img.Ref + "`"
			if !strings.Contains(notes, line) {
				t.Errorf("the notes do not say %s:\n%s", line, notes)
			}
		}
	}
	if !strings.Contains(notes, "--certificate-identity "+identity+" ") {
		t.Errorf("the notes' cosign verify does not name %s:\n%s", identity, notes)
	}
	if !strings.Contains(notes, "built with go1.26.8") {
		t.Errorf("the notes do not say which Go built the archives:\n%s", notes)
	}

	// docs/install.md's verify commands accept that identity: the exact one, and the regexp.
	doc := readFile(t, installDocPath)
	if !strings.Contains(doc, "--certificate-identity "+identity+" ") {
		t.Errorf("%s: no cosign verify with --certificate-identity %s", installDocPath, identity)
	}
	m := regexp.MustCompile(`--certificate-identity-regexp '([^']+)'`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatalf("%s: no cosign verify --certificate-identity-regexp '...'", installDocPath)
	}
	re, err := regexp.Compile(m[1])
	if err != nil {
		t.Fatalf("%s: --certificate-identity-regexp %s: %v", installDocPath, m[1], err)
	}
	if !re.MatchString(identity) {
		t.Errorf("%s: --certificate-identity-regexp %s does not accept %s", installDocPath, m[1], identity)
	}
	for _, other := range []string{
		strings.Replace(identity, "release.yml", "ci.yml", 1),
		strings.Replace(identity, "@refs/tags/", "@refs/heads/", 1),
		strings.Replace(identity, "kubectl-pgbackrest/kubectl-pgbackrest", "someone/kubectl-pgbackrest", 1),
	} {
		if re.MatchString(other) {
			t.Errorf("%s: --certificate-identity-regexp %s also accepts %s", installDocPath, m[1], other)
		}
	}
}
