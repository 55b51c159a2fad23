// Command pulumi-resource-random is the resource provider plugin for random:* resources. schema.json and
// bridge-metadata.json are generated into this directory by pulumi-tfgen-random at build time
// (scripts/engine-build.sh); they are not committed.
package main

import (
	"context"
	_ "embed"

	pftfbridge "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"ai-platform-data/engine/random/info"
)

// Set with -ldflags -X main.version=... by scripts/engine-build.sh.
var version = "0.0.0-dev"

//go:embed schema.json
var schema []byte

//go:embed bridge-metadata.json
var metadata []byte

func main() {
	pftfbridge.Main(context.Background(), "random", info.Provider(version, metadata),
		pftfbridge.ProviderMetadata{PackageSchema: schema})
}
