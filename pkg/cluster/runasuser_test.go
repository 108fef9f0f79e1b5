package cluster

import (
	"strings"
	"testing"
)

func TestParseIDRanges(t *testing.T) {
	cases := []struct {
		in   string
		want []IDRange
		err  string
	}{
		{"1000680000/10000", []IDRange{{1000680000, 10000}}, ""},
		{"1000680000/10000,1000700000/100", []IDRange{{1000680000, 10000}, {1000700000, 100}}, ""},
		{"5000-5009", []IDRange{{5000, 10}}, ""},
		{"1000680000", nil, "first/size or first-last"},
		{"1000680000/0", nil, "size 0"},
		{"2147483000/10000", nil, "does not fit"},
		{"x/10", nil, `"x" is not an id`},
		{"10-5", nil, "5 is below 10"},
		{"", nil, "first/size"},
	}
	for _, c := range cases {
		got, err := ParseIDRanges(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: err %v, want %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || len(got) != len(c.want) {
			t.Errorf("%q: %v %v", c.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%q: %v, want %v", c.in, got, c.want)
			}
		}
	}
}

func TestNamespaceUser(t *testing.T) {
	openshift := map[string]string{AnnotationUIDRange: "1000680000/10000", AnnotationSupplementalGroups: "1000690000/10000,5000/10"}
	cases := []struct {
		name        string
		annotations map[string]string
		want        int64
		uid, fs     int64
		err         []string
	}{
		{"plain, auto", nil, 0, 999, 999, nil},
		{"plain, explicit", map[string]string{"other": "x"}, 4242, 4242, 4242, nil},
		{"openshift, auto", openshift, 0, 1000680000, 1000690000, nil},
		{"openshift, last uid", openshift, 1000689999, 1000689999, 1000690000, nil},
		{"openshift, below", openshift, 1000679999, 0, 0, []string{"--run-as-user 1000679999", "1000680000-1000689999", AnnotationUIDRange, "auto (1000680000)"}},
		{"openshift, above", openshift, 1000690000, 0, 0, []string{"--run-as-user 1000690000", "outside"}},
		{"openshift, the image's 999", openshift, 999, 0, 0, []string{"--run-as-user 999", "outside"}},
		{"uid range alone", map[string]string{AnnotationUIDRange: "1000680000/10000"}, 0, 1000680000, 1000680000, nil},
		{"bad uid range", map[string]string{AnnotationUIDRange: "lots"}, 0, 0, 0, []string{"namespace ns", AnnotationUIDRange}},
		{"bad groups", map[string]string{AnnotationUIDRange: "1/5", AnnotationSupplementalGroups: "x"}, 0, 0, 0, []string{AnnotationSupplementalGroups}},
		{"range from root, auto", map[string]string{AnnotationUIDRange: "0/100"}, 0, 0, 0, []string{"starts at root", "--run-as-user", "1 to 99"}},
		{"range from root, explicit", map[string]string{AnnotationUIDRange: "0/100"}, 50, 50, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := NamespaceUser("ns", c.annotations, c.want)
			if len(c.err) > 0 {
				if err == nil {
					t.Fatalf("accepted: %+v", u)
				}
				for _, w := range c.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil || u.RunAsUser != c.uid || u.FSGroup != c.fs {
				t.Errorf("got %+v %v, want uid %d fsGroup %d", u, err, c.uid, c.fs)
			}
		})
	}
}

// A spec written before the user was recorded runs as 999, as it always did.
func TestSpecPodUser(t *testing.T) {
	for _, c := range []struct {
		uid, fs, wantUID, wantFS int64
	}{{0, 0, 999, 999}, {999, 999, 999, 999}, {1000680000, 1000690000, 1000680000, 1000690000}, {4242, 0, 4242, 4242}} {
		u := (&Spec{RunAsUser: c.uid, FSGroup: c.fs}).PodUser()
		if u.RunAsUser != c.wantUID || u.FSGroup != c.wantFS {
			t.Errorf("spec %d/%d: %+v", c.uid, c.fs, u)
		}
	}
	if s := New("pg1", "ns"); s.RunAsUser != 999 || s.FSGroup != 999 {
		t.Errorf("a new spec records %d/%d", s.RunAsUser, s.FSGroup)
	}
}
