// Package shim exposes the Terraform random provider (terraform-plugin-framework) to the bridge.
package shim

import (
	"github.com/hashicorp/terraform-plugin-framework/provider"
	random "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the upstream Terraform random provider.
func NewProvider() provider.Provider { return random.New() }
