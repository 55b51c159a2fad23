// Command pulumi-tfgen-random writes the Pulumi package schema (schema.json, bridge-metadata.json) that
// pulumi-resource-random embeds: `pulumi-tfgen-random schema --out DIR`.
package main

import (
	"os"

	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"ai-platform-data/engine/random/info"
)

func main() {
	pftfgen.Main("random", info.Provider(os.Getenv("RANDOM_PROVIDER_VERSION"), []byte("{}")))
}
