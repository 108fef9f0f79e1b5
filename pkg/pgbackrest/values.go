package pgbackrest

import (
	"fmt"
	"net"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Values that reach pgbackrest.conf from outside the plugin (the S3 Secret, which people also
// write by hand, and the cluster spec read back from its ConfigMap) are checked for what they are
// at every layer that accepts them: an ini file has no quoting, so a line break in a region would
// add any option (repo2-storage-verify-tls=n, a recovery-option the restored primary runs).

var (
	regionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// CheckS3Region checks an S3 region: lowercase letters, digits and hyphens (us-east-1).
func CheckS3Region(r string) error {
	if !regionRE.MatchString(r) {
		return fmt.Errorf("region %q must be lowercase letters, digits and hyphens, e.g. us-east-1", r)
	}
	return nil
}

// CheckS3Bucket checks an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens.
func CheckS3Bucket(b string) error {
	if !bucketRE.MatchString(b) || strings.Contains(b, "..") {
		return fmt.Errorf("bucket %q is not a valid S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens", b)
	}
	return nil
}

// CheckS3Endpoint checks an S3 endpoint: a DNS name, an IPv4 address or a bracketed IPv6 literal,
// with an optional port, and nothing else (no scheme, path, control character, '=' or '#').
func CheckS3Endpoint(e string) error {
	if e == "" {
		return fmt.Errorf("endpoint is empty")
	}
	if hasControl(e) || strings.ContainsAny(e, "=#") {
		return fmt.Errorf("endpoint %q contains a control character, '=' or '#'", e)
	}
	host := e
	if h, port, err := net.SplitHostPort(e); err == nil {
		host = h
		if _, n := SplitEndpoint(e); n == 0 {
			return fmt.Errorf("endpoint %q: port %q must be 1-65535", e, port)
		}
		if strings.HasPrefix(e, "[") {
			host = "[" + h + "]" // SplitHostPort removed the brackets
		}
	}
	switch {
	case strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]"):
		ip := net.ParseIP(host[1 : len(host)-1])
		if ip == nil || ip.To4() != nil {
			return fmt.Errorf("endpoint %q: %s is not an IPv6 address", e, host)
		}
	case strings.ContainsAny(host, "[]"):
		return fmt.Errorf("endpoint %q: brackets only enclose an IPv6 address, e.g. [fd00::1]:9000", e)
	case net.ParseIP(host) != nil:
		if net.ParseIP(host).To4() == nil {
			return fmt.Errorf("endpoint %q: put an IPv6 address in brackets, e.g. [%s]:443", e, host)
		}
	default:
		if msgs := validation.IsDNS1123Subdomain(strings.ToLower(host)); len(msgs) > 0 {
			return fmt.Errorf("endpoint %q: %q is not a DNS name: %s", e, host, strings.Join(msgs, "; "))
		}
	}
	return nil
}

// CheckConfValue refuses a value that an ini line cannot hold: a line break or another control
// character would end the option and start another.
func CheckConfValue(key, value string) error {
	if hasControl(value) {
		return fmt.Errorf("%s=%q: a pgbackrest.conf value cannot hold a line break or control character", key, value)
	}
	return nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
