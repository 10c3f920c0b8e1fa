import Testing
@testable import KubeAPI

@Suite struct ManifestTests {
    @Test func yamlPodDecodes() throws {
        let yaml = """
        apiVersion: v1
        kind: Pod
        metadata: {name: web, namespace: default, labels: {app: "8080"}}
        spec:
          containers:
          - name: c
            image: busybox
            command: ["sh", "-c", "echo hi"]
            ports: [{containerPort: 8080, protocol: TCP}]
            resources: {limits: {cpu: 500m, memory: 64Mi}}
        """
        let docs = try Manifest.documents(yaml)
        #expect(docs.count == 1)
        let pod = try Manifest.decode(Pod.self, from: docs[0])
        #expect(pod.metadata.labels?["app"] == "8080")
        #expect(pod.spec.containers[0].ports?[0].containerPort == 8080)
        #expect(pod.spec.containers[0].resources?.limits?["cpu"]?.milli == 500)
        #expect(pod.spec.containers[0].resources?.limits?["memory"]?.value == Int64(64 * 1024 * 1024))
    }

    @Test func errorNamesFieldPath() throws {
        let yaml = """
        metadata: {name: bad}
        spec:
          containers:
          - name: c
            image: [not, a, string]
        """
        let doc = try Manifest.documents(yaml, path: "/m/bad.yaml")[0]
        do {
            _ = try Manifest.decode(Pod.self, from: doc, path: "/m/bad.yaml")
            Issue.record("decode should fail")
        } catch let error as ManifestError {
            #expect(error.field == "spec.containers[0].image")
            #expect(error.description.hasPrefix("/m/bad.yaml: spec.containers[0].image"))
        }
    }

    @Test func missingRequiredField() throws {
        let doc = try Manifest.documents("metadata: {name: x}\nspec: {containers: [{image: busybox}]}")[0]
        #expect(throws: ManifestError(path: "", field: "spec.containers[0].name", message: "Required value")) {
            _ = try Manifest.decode(Pod.self, from: doc)
        }
    }

    @Test func multipleDocuments() throws {
        let docs = try Manifest.documents("a: 1\n---\n---\nb: true\n")
        #expect(docs == [.object(["a": .int(1)]), .object(["b": .bool(true)])])
    }

    @Test func quantities() throws {
        #expect(try Quantity("1Gi").value == 1 << 30)
        #expect(try Quantity("0.5").milli == 500)
        #expect(try Quantity("2").milli == 2000)
        #expect(throws: QuantityError.self) { _ = try Quantity("12XB") }
    }
}
