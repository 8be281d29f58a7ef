package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// functionPackage is the Go package of the Lambda function, relative to the
// module root.
const functionPackage = "./lambda"

// buildArgs is the reproducible build of the function (the same as `make
// bootstrap`): -trimpath drops local paths, -buildvcs=false keeps the commit
// out of the binary, -s -w drop the symbol tables. The binary then depends
// only on the Go source and module versions it is built from and the Go
// version, so hashing it gives an asset hash that changes exactly when the
// deployed code would.
var buildArgs = []string{"build", "-trimpath", "-buildvcs=false", "-tags", "lambda.norpc", "-ldflags", "-s -w"}

// ModuleRoot returns the directory of the go.mod governing the current
// directory (the repository root under `cdk synth`, infra/.. under go test).
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the repository")
	}
	return filepath.Dir(gomod), nil
}

// BuildFunction compiles the package pkg (normally ./lambda) of the module in
// moduleDir for provided.al2023 on arm64 into outDir/bootstrap, mode 0755.
func BuildFunction(ctx context.Context, moduleDir, pkg, outDir string) error {
	bin := filepath.Join(outDir, "bootstrap")
	cmd := exec.CommandContext(ctx, "go", append(append(buildArgs[:len(buildArgs):len(buildArgs)], "-o", bin), pkg)...)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for linux/arm64: %w\n%s", pkg, err, strings.TrimSpace(stderr.String()))
	}
	// Lambda runs the file as another user; the mode is also part of the zip.
	return os.Chmod(bin, 0o755)
}
