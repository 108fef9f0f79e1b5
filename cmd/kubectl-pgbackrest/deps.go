// keeps go.mod entries until the code imports them: other packages are written
// in parallel and `go mod tidy` must not drop their dependencies meanwhile.
package main

import (
	_ "github.com/fatih/color"
	_ "github.com/spf13/cobra"
	_ "github.com/spf13/pflag"
	_ "k8s.io/api/core/v1"
	_ "k8s.io/apimachinery/pkg/apis/meta/v1"
	_ "k8s.io/cli-runtime/pkg/genericclioptions"
	_ "k8s.io/cli-runtime/pkg/printers"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/client-go/kubernetes/fake"
	_ "k8s.io/client-go/tools/remotecommand"
	_ "k8s.io/client-go/tools/watch"
	_ "k8s.io/kubectl/pkg/cmd/util"
	_ "sigs.k8s.io/yaml"
)
