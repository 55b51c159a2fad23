// Shim module: its path lies under the Terraform provider's module path, so it may import that
// provider's internal/provider package (Go's internal rule is by import path). Replaced by ./shim.
module github.com/terraform-providers/terraform-provider-random/shim

go 1.25.8

require github.com/terraform-providers/terraform-provider-random v1.3.2-0.20231204135814-c6e90de46687
