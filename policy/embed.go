package policy

import "embed"

const defaultDir = "defaults"

//go:embed defaults/*.rego
var defaultFS embed.FS
