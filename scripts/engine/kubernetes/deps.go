//go:build tools

// The packages that the provider's main (cmd/pulumi-resource-kubernetes, copied from the module at
// build time) and its schema generator import, so that `go mod tidy` keeps go.sum complete for both.
package deps

import (
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
	_ "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)
