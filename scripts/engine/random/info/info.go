// Package info maps the Terraform random provider onto Pulumi tokens (random:index/<name>:<Name>), the
// tokens that the npm @pulumi/random SDK registers.
package info

import (
	"context"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/terraform-providers/terraform-provider-random/shim"
)

// Provider returns the bridge description of the provider. metadata is bridge-metadata.json as written by
// pulumi-tfgen-random (an empty object when generating it).
func Provider(version string, metadata []byte) tfbridge.ProviderInfo {
	prov := tfbridge.ProviderInfo{
		P:            pftfbridge.ShimProviderWithContext(context.Background(), shim.NewProvider()),
		Name:         "random",
		Version:      version,
		DisplayName:  "random",
		Publisher:    "ai-platform-data",
		License:      "Apache-2.0",
		Description:  "Terraform random provider bridged for the engine e2e runs of ai-platform-data",
		MetadataInfo: tfbridge.NewProviderMetadata(metadata),
		Resources:    map[string]*tfbridge.ResourceInfo{},
	}
	// random_password -> random:index/randomPassword:RandomPassword (the TF name keeps its "random" part,
	// as in @pulumi/random), and so on for every resource.
	prov.MustComputeTokens(tokens.SingleModule("", "index", tokens.MakeStandard("random")))
	return prov
}
