import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { findUnpinned, REASON } from "../../src/pin/finder.js";
import { BUILT_HERE } from "../../src/pin/yaml.js";

const D = `sha256:${"0123456789abcdef".repeat(4)}`;

/** What `findUnpinned` makes of `text` in a file at `path`: the unpinned references as written, and the reasons of the rest. */
function find(path: string, text: string) {
  const scan = findUnpinned(path, text);
  for (const u of scan.unpinned) expect(text.slice(u.offset, u.offset + u.text.length)).toBe(u.text);
  for (const u of scan.unpinnable) expect(text.slice(u.offset, u.offset + u.text.length)).toBe(u.text);
  return { unpinned: scan.unpinned.map((u) => u.text), unpinnable: scan.unpinnable.map((u) => [u.text, u.reason]) };
}
const pinnable = (path: string, text: string) => find(path, text).unpinned;

describe("findUnpinned: syntaxes that make an image reference certain", () => {
  it.each([
    ["Dockerfile FROM", "Dockerfile", "FROM nginx:1.25\n", ["nginx:1.25"]],
    ["FROM lower case, CRLF", "Dockerfile", "from alpine:3.20\r\nRUN true\r\n", ["alpine:3.20"]],
    ["FROM --platform AS", "Dockerfile", "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n", ["golang:1.22"]],
    ["FROM registry with port", "Dockerfile", "FROM localhost:5000/team/app:v1\n", ["localhost:5000/team/app:v1"]],
    ["FROM continued over lines", "Dockerfile", "FROM \\\n  --platform=linux/amd64 \\\n  cgr.dev/chainguard/go:latest AS b\n", ["cgr.dev/chainguard/go:latest"]],
    ["escape directive", "Dockerfile", "# escape=`\nFROM `\n  mcr.microsoft.com/windows/servercore:ltsc2022\n", ["mcr.microsoft.com/windows/servercore:ltsc2022"]],
    ["COPY --from image", "Dockerfile", "FROM a:1 AS build\nCOPY --chown=1:1 --from=ghcr.io/x/tools:v2 /bin/t /t\n", ["a:1", "ghcr.io/x/tools:v2"]],
    ["RUN --mount from image", "Dockerfile", "FROM a:1\nRUN --mount=type=bind,from=ghcr.io/x/src:1,target=/src make\n", ["a:1", "ghcr.io/x/src:1"]],
    ["syntax directive", "Dockerfile", "# syntax=docker/dockerfile:1.7\nFROM a:1\n", ["docker/dockerfile:1.7", "a:1"]],
    ["ARG used as the FROM image", "Dockerfile", "ARG BASE=python:3.12-slim\nFROM ${BASE}\n", ["python:3.12-slim"]],
    ["quoted ARG used as the FROM image", "Dockerfile", 'ARG BASE="python:3.12"\nFROM $BASE AS x\n', ["python:3.12"]],
    ["Containerfile", "build/Containerfile", "FROM fedora:40\n", ["fedora:40"]],
    ["app.Dockerfile", "app.Dockerfile", "FROM node:22\n", ["node:22"]],
    ["Dockerfile.dev", "Dockerfile.dev", "FROM node:22\n", ["node:22"]],
    ["Dockerfile --image flag", "Dockerfile", "FROM a:1\nRUN crane copy --image=b:2 c\n", ["a:1", "b:2"]],
    ["Kubernetes", "k8s/deploy.yaml", "spec:\n  containers:\n    - name: web\n      image: nginx:1.25\n", ["nginx:1.25"]],
    ["Compose, quoted", "compose.yml", 'services:\n  db:\n    image: "postgres:16"\n  c:\n    image: \'redis:7\' # cache\n', ["postgres:16", "redis:7"]],
    ["comment after plain value", "a.yml", "image: nginx:1.25   # web\n", ["nginx:1.25"]],
    ["anchor before the value", "a.yml", "x:\n  image: &img nginx:1.25\n", ["nginx:1.25"]],
    ["quoted key", "a.yaml", '"image": "nginx:1.25"\n', ["nginx:1.25"]],
    ["Tekton step", "task.yaml", "steps:\n  - name: build\n    image: gcr.io/kaniko-project/executor:v1.23.0\n", ["gcr.io/kaniko-project/executor:v1.23.0"]],
    ["GitLab CI long form", ".gitlab-ci.yml", "image:\n  name: ruby:3.3\n  entrypoint: [\"\"]\njob:\n  image: node:22\n", ["ruby:3.3", "node:22"]],
    ["CircleCI", ".circleci/config.yml", "jobs:\n  b:\n    docker:\n      - image: cimg/node:20.11\n", ["cimg/node:20.11"]],
    ["workflow container short form", ".github/workflows/ci.yml", "jobs:\n  t:\n    container: node:22-bookworm\n", ["node:22-bookworm"]],
    ["workflow container and services", ".github/workflows/ci.yaml", "jobs:\n  t:\n    container:\n      image: node:22\n    services:\n      redis:\n        image: redis:7\n", ["node:22", "redis:7"]],
    ["workflow docker://", ".github/workflows/ci.yml", "steps:\n  - uses: docker://alpine:3.20\n  - uses: actions/checkout@v4\n", ["alpine:3.20"]],
    ["workflow run with --image", ".github/workflows/d.yml", "steps:\n  - run: gcloud run deploy --image gcr.io/p/app:1.2 x\n", ["gcr.io/p/app:1.2"]],
    ["action.yml docker://", "action.yml", "runs:\n  using: docker\n  image: docker://ghcr.io/o/a:1\n", ["ghcr.io/o/a:1"]],
    ["Cloud Build steps", "cloudbuild.yaml", "steps:\n  - name: gcr.io/cloud-builders/docker:24\n    volumes:\n      - name: vol\n", ["gcr.io/cloud-builders/docker:24"]],
    ["devcontainer.json", ".devcontainer/devcontainer.json", '{\n  "image": "mcr.microsoft.com/devcontainers/base:ubuntu"\n}\n', ["mcr.microsoft.com/devcontainers/base:ubuntu"]],
    ["ECS task definition", "task.json", '{"containerDefinitions":[{"name":"a","image":"public.ecr.aws/nginx/nginx:1.25"}]}', ["public.ecr.aws/nginx/nginx:1.25"]],
    ["Terraform", "main.tf", 'resource "x" "y" {\n  container {\n    image = "nginx:1.25"\n  }\n}\n', ["nginx:1.25"]],
    ["shell --image=", "deploy.sh", "kubectl run x --image=nginx:1.25 --restart=Never\n", ["nginx:1.25"]],
    ["shell --image with a space and quotes", "deploy.sh", "gcloud run deploy --image \"gcr.io/p/app:2\" && pack build --builder-image='paketobuildpacks/builder:base'\n", ["gcr.io/p/app:2", "paketobuildpacks/builder:base"]],
    ["script by its #! line", "bin/deploy", "#!/usr/bin/env bash\nkubectl run x --image=busybox:1.36\n", ["busybox:1.36"]],
    ["Makefile", "Makefile", "run:\n\tkubectl run x --image=busybox:1.36\n", ["busybox:1.36"]],
    [
      "Compose: only the services that do not build",
      "compose.yaml",
      "services:\n  app:\n    build:\n      context: .\n    image: app:dev\n  db:\n    image: postgres:16\n    environment:\n      build: x\n  cache:\n    image: redis:7\n",
      ["postgres:16", "redis:7"],
    ],
    ["a build: in a neighbouring list item", "k8s.yaml", "steps:\n  - build: true\n  - image: alpine:3.20\n    build2: x\n", ["alpine:3.20"]],
  ])("%s", (_label, path, text, expected) => {
    expect(pinnable(path, text)).toEqual(expected);
  });
});

describe("findUnpinned: what is not a certain unpinned reference", () => {
  it.each([
    ["already pinned", "Dockerfile", `FROM nginx:1.25@${D}\n`],
    ["digest only", "a.yaml", `image: nginx@${D}\n`],
    ["scratch", "Dockerfile", "FROM scratch\n"],
    ["an earlier stage", "Dockerfile", `FROM a:1@${D} AS build\nFROM build\nCOPY --from=build /a /b\nCOPY --from=0 /a /b\n`],
    ["stage names are case-insensitive", "Dockerfile", `FROM a:1@${D} AS Build\nCOPY --from=BUILD /a /b\n`],
    ["a comment", "Dockerfile", `FROM a:1@${D}\n# FROM b:2\n`],
    ["a comment in YAML", "a.yaml", "# image: nginx:1.25\n"],
    ["a heredoc body", "Dockerfile", `FROM a:1@${D}\nRUN <<EOF\nFROM b:2\nEOF\n`],
    ["a late syntax comment", "Dockerfile", `FROM a:1@${D}\n# syntax=docker/dockerfile:1\n`],
    ["Helm values mapping", "values.yaml", "image:\n  repository: nginx\n  tag: 1.25\n"],
    ["YAML block scalar", "a.yaml", "image: |\n  nginx:1.25\n"],
    ["YAML alias", "a.yaml", "image: *default\n"],
    ["YAML flow mapping", "a.yaml", "image: {name: nginx:1.25}\n"],
    ["container: outside workflows", "k8s.yaml", "container: main:1\n"],
    ["uses: an action", ".github/workflows/a.yml", "- uses: actions/checkout@v4\n"],
    ["action.yml Dockerfile path", "action.yml", "runs:\n  image: Dockerfile\n"],
    ["name: outside Cloud Build", "k8s.yaml", "steps:\n  - name: gcr.io/cloud-builders/docker:24\n"],
    ["docs", "README.md", "FROM nginx:1.25\nimage: nginx:1.25\n--image=nginx:1.25\n"],
    ["plain text", "notes.txt", "--image=nginx:1.25\n"],
    ["--image-pull-policy", "a.sh", "kubectl run --image-pull-policy=Always\n"],
    ["flag without value", "a.sh", "tool --image --other\n"],
    ["shell comment", "a.sh", "# kubectl run --image=nginx:1\n"],
    ["an image key in another JSON key", "a.json", '{"imageName": "nginx:1"}\n'],
  ])("%s", (_label, path, text) => {
    expect(find(path, text)).toEqual({ unpinned: [], unpinnable: [] });
  });
});

describe("findUnpinned: reported as unpinnable, with the reason, never guessed", () => {
  it.each([
    ["untagged", "Dockerfile", "FROM nginx\n", "nginx", REASON.untagged],
    ["untagged COPY --from (no such stage)", "Dockerfile", `FROM a:1@${D}\nCOPY --from=alpine /a /b\n`, "alpine", REASON.untagged],
    ["variable", "Dockerfile", "ARG V\nFROM node:${V}\n", "node:${V}", REASON.variable],
    ["ARG without default", "Dockerfile", "ARG BASE\nFROM $BASE\n", "$BASE", REASON.variable],
    ["template", "deployment.yaml", 'image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"\n', "{{ .Values.image.repository }}:{{ .Values.image.tag }}", REASON.template],
    ["GitHub expression", ".github/workflows/a.yml", "container: ${{ matrix.image }}\n", "${{ matrix.image }}", REASON.template],
    ["shell variable", "a.sh", 'kubectl run x --image="$IMAGE"\n', "$IMAGE", REASON.variable],
    ["Makefile variable", "Makefile", "\tkubectl run x --image=$(IMG)\n", "$(IMG)", REASON.variable],
    ["Terraform interpolation", "main.tf", 'image = "${var.registry}/app:1"\n', "${var.registry}/app:1", REASON.variable],
    ["free text", "a.yaml", "image: the latest nginx\n", "the latest nginx", REASON.freeText],
    ["Compose: image named for what build: makes", "compose.yaml", "services:\n  app:\n    build: .\n    image: ghcr.io/o/app:dev\n", "ghcr.io/o/app:dev", BUILT_HERE],
    ["Compose: build: block after image:", "docker-compose.yml", "services:\n  app:\n    image: \"app:1\"\n    ports: [\"80:80\"]\n    build:\n      context: .\n", "app:1", BUILT_HERE],
  ])("%s", (_label, path, text, value, reason) => {
    expect(find(path, text)).toEqual({ unpinned: [], unpinnable: [[value, reason]] });
  });

  it("leaves a line with a digesta:ignore comment alone, saying so", () => {
    expect(find("Dockerfile", "FROM a:1 # digesta:ignore\nFROM b:2\n")).toEqual({
      unpinned: ["b:2"],
      unpinnable: [["a:1", expect.stringMatching(/digesta:ignore/)]],
    });
  });

  it("says what is wrong with text that is no reference", () => {
    const { unpinnable } = find("a.yaml", "image: Nginx:1\n");
    expect(unpinnable).toEqual([["Nginx:1", expect.stringMatching(/^not an image reference: .*lowercase/)]]);
  });
});

describe("findUnpinned: places", () => {
  it("gives line, column and byte offset of each reference, past multi-byte text", () => {
    const text = Buffer.from("# café ☕\nservices:\n  a:\n    image: redis:7\n", "utf8").toString("latin1");
    const [found] = findUnpinned("compose.yaml", text).unpinned;
    expect(found).toMatchObject({ line: 4, column: 12, text: "redis:7", syntax: "yaml-image" });
    expect(found!.reference).toEqual({ registry: "docker.io", repository: "library/redis", tag: "7" });
  });

  it("reports an ARG used by two FROMs once", () => {
    expect(pinnable("Dockerfile", "ARG B=a:1\nFROM $B AS x\nFROM ${B}\n")).toEqual(["a:1"]);
  });

  it("never throws and only reports text that is where it says, whatever the input", () => {
    const paths = fc.constantFrom("Dockerfile", "a.yaml", ".github/workflows/x.yml", "a.json", "a.tf", "a.sh", "cloudbuild.yaml", "action.yml");
    const alphabet = fc.constantFrom("FROM ", "image: ", "--image=", "COPY --from=", "\\\n", "\n", "\r\n", '"', "'", "a:1", "$X", "{{", "# ", " AS b", "<<E", "E\n", "container: ", "- ", "@");
    fc.assert(
      fc.property(paths, fc.array(alphabet, { maxLength: 40 }), (path, parts) => {
        find(path, parts.join(""));
      }),
    );
  });
});
