import Testing

@testable import APIServer

@Suite struct StoreTests {
    @Test func oneGlobalResourceVersionAcrossResources() throws {
        let f = try RegistryFixture()
        let r0 = f.store.currentRV
        let cm = try f.registry.create(ResourceRegistry.configmaps, namespace: "default", object: .lit(#"{"metadata":{"name":"a"}}"#), context: RegistryFixture.admin)
        let sec = try f.registry.create(ResourceRegistry.secrets, namespace: "default", object: .lit(#"{"metadata":{"name":"s"}}"#), context: RegistryFixture.admin)
        #expect(Int64(cm.resourceVersion) == r0 + 1)
        #expect(Int64(sec.resourceVersion) == r0 + 2)
        #expect(f.store.currentRV == r0 + 2)
    }

    @Test func watchResumesInsideTheWindowAndExpiresOutside() throws {
        let f = try RegistryFixture(hubMaxEvents: 4)
        let start = f.store.currentRV
        for i in 0..<10 {
            _ = try f.registry.create(ResourceRegistry.configmaps, namespace: "default", object: .lit(#"{"metadata":{"name":"c\#(i)"}}"#),
                                      context: RegistryFixture.admin)
        }
        let recent = try f.store.subscribe(resource: "configmaps", namespace: nil, fromRV: f.store.currentRV - 2)
        #expect(recent.replay.map(\.key.name) == ["c8", "c9"])
        #expect(throws: WatchHub.TooOld.self) { try f.store.subscribe(resource: "configmaps", namespace: nil, fromRV: start) }
    }

    @Test func seedingAgainAfterARestartIsHarmless() throws {
        let f = try RegistryFixture()
        let again = ServiceAllocator(range: f.allocator.range)
        again.load(services: try f.registry.list(ResourceRegistry.services, namespace: nil))
        try Seed.ensure(f.registry, allocator: again, securePort: 6443, endpointAddress: nil)
        #expect(try f.registry.get(ResourceRegistry.services, namespace: "default", name: "kubernetes")["spec"]?["clusterIP"]?.string == "10.96.0.1")
    }

    @Test func dataSurvivesReopening() throws {
        let dir = try TempDir()
        let path = dir.path + "/db"
        var rv: Int64 = 0
        do {
            let s = try Store(path: path)
            let r = try s.update(ObjectKey("configmaps", "default", "x")) { _ in .put(.lit(#"{"metadata":{"name":"x","uid":"u1"}}"#)) }
            rv = r.rv
        }
        let s2 = try Store(path: path)
        #expect(s2.currentRV == rv)
        #expect(try s2.get(ObjectKey("configmaps", "default", "x"))?.resourceVersion == String(rv))
    }
}

@Suite struct RegistryTests {
    let ctx = RegistryFixture.admin

    @Test func createSetsServerMetadataAndDefaults() throws {
        let f = try RegistryFixture()
        let pod = try f.registry.create(ResourceRegistry.pods, namespace: "default", object: .lit(#"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-"},
             "spec":{"containers":[{"name":"c","image":"nginx","ports":[{"containerPort":80}]}]}}
            """#), context: ctx)
        #expect(pod.name.hasPrefix("web-") && pod.name.count == 9)
        #expect(pod.uid.count == 36)
        #expect(pod["metadata"]?["creationTimestamp"]?.string?.hasSuffix("Z") == true)
        let spec = pod["spec"] ?? .null
        #expect(spec["restartPolicy"]?.string == "Always")
        #expect(spec["dnsPolicy"]?.string == "ClusterFirst")
        #expect(spec["schedulerName"]?.string == "default-scheduler")
        #expect(spec["serviceAccountName"]?.string == "default")
        #expect(spec["containers"]?.array?[0]["imagePullPolicy"]?.string == "Always")
        #expect(spec["containers"]?.array?[0]["ports"]?.array?[0]["protocol"]?.string == "TCP")
        #expect(spec["tolerations"]?.array?.count == 2)
        #expect(pod["status"]?["phase"]?.string == "Pending")
        #expect(pod["status"]?["qosClass"]?.string == "BestEffort")
    }

    @Test func invalidPodIs422WithCauses() throws {
        let f = try RegistryFixture()
        do {
            _ = try f.registry.create(ResourceRegistry.pods, namespace: "default",
                                      object: .lit(#"{"metadata":{"name":"Bad_Name"},"spec":{"containers":[{"name":"c"}]}}"#), context: ctx)
            Issue.record("invalid pod accepted")
        } catch let e as APIError {
            #expect(e.code == 422)
            #expect(e.reason == "Invalid")
            let causes = e.status["details"]?["causes"]?.array ?? []
            #expect(causes.contains { $0["field"]?.string == "metadata.name" && $0["reason"]?.string == "FieldValueInvalid" })
            #expect(causes.contains { $0["field"]?.string == "spec.containers[0].image" && $0["reason"]?.string == "FieldValueRequired" })
            #expect(e.message.hasPrefix("Pod \"Bad_Name\" is invalid: "))
        }
    }

    @Test func staleUpdateIs409AndNoOpWritesNothing() throws {
        let f = try RegistryFixture()
        let r = ResourceRegistry.configmaps
        let v1 = try f.registry.create(r, namespace: "default", object: .lit(#"{"metadata":{"name":"c"},"data":{"a":"1"}}"#), context: ctx)
        var v2 = v1
        v2["data"] = .obj(["a": "2"])
        let updated = try f.registry.update(r, namespace: "default", name: "c", object: v2, context: ctx).object
        #expect(updated.resourceVersion != v1.resourceVersion)
        var stale = v1
        stale["data"] = .obj(["a": "3"])
        #expect {
            try f.registry.update(r, namespace: "default", name: "c", object: stale, context: ctx)
        } throws: { ($0 as? APIError)?.code == 409 && ($0 as? APIError)?.reason == "Conflict" }
        let rv = f.store.currentRV
        _ = try f.registry.patch(r, namespace: "default", name: "c", type: .merge, patch: .lit(#"{"data":{"a":"2"}}"#), context: ctx)
        #expect(f.store.currentRV == rv)
    }

    @Test func duplicateCreateIs409AlreadyExists() throws {
        let f = try RegistryFixture()
        let obj = JSON.lit(#"{"metadata":{"name":"dup"}}"#)
        _ = try f.registry.create(ResourceRegistry.configmaps, namespace: "default", object: obj, context: ctx)
        #expect { try f.registry.create(ResourceRegistry.configmaps, namespace: "default", object: obj, context: ctx) }
            throws: { ($0 as? APIError)?.reason == "AlreadyExists" }
        #expect { try f.registry.create(ResourceRegistry.configmaps, namespace: "nope", object: obj, context: ctx) }
            throws: { ($0 as? APIError)?.code == 404 }
    }

    @Test func gracefulPodDeletionAndFinalizers() throws {
        let f = try RegistryFixture()
        let r = ResourceRegistry.pods
        let spec = #""spec":{"nodeName":"n1","containers":[{"name":"c","image":"x"}]}"#
        _ = try f.registry.create(r, namespace: "default", object: .lit(#"{"metadata":{"name":"p"},\#(spec)}"#), context: ctx)
        let pending = try f.registry.delete(r, namespace: "default", name: "p", context: ctx)
        guard case .pending(let p) = pending else { Issue.record("bound pod deleted without grace"); return }
        #expect(p["metadata"]?["deletionGracePeriodSeconds"]?.int == 30)
        #expect(p.deletionTimestamp != nil)
        // The kubelet confirms with grace 0.
        let gone = try f.registry.delete(r, namespace: "default", name: "p", options: DeleteOptions(gracePeriodSeconds: 0), context: ctx)
        guard case .deleted = gone else { Issue.record("grace 0 did not delete"); return }

        _ = try f.registry.create(r, namespace: "default", object: .lit(#"{"metadata":{"name":"q","finalizers":["example.com/x"]},\#(spec)}"#), context: ctx)
        _ = try f.registry.delete(r, namespace: "default", name: "q", options: DeleteOptions(gracePeriodSeconds: 0), context: ctx)
        #expect(try f.registry.getIfPresent(r, namespace: "default", name: "q") != nil)
        try f.registry.modify(r, namespace: "default", name: "q") { $0.setMeta("finalizers", nil) }
        #expect(try f.registry.getIfPresent(r, namespace: "default", name: "q") == nil)
    }

    @Test func serviceGetsClusterIPAndNodePortsAndReleasesThem() throws {
        let f = try RegistryFixture()
        let r = ResourceRegistry.services
        let svc = try f.registry.create(r, namespace: "default", object: .lit(#"""
            {"metadata":{"name":"s"},"spec":{"type":"NodePort","selector":{"app":"a"},"ports":[{"port":80}]}}
            """#), context: ctx)
        let ip = svc["spec"]?["clusterIP"]?.string ?? ""
        #expect(ip.hasPrefix("10.") && ip != "10.96.0.1")
        let np = svc["spec"]?["ports"]?.array?[0]["nodePort"]?.int ?? 0
        #expect((30000...32767).contains(np))
        #expect(svc["spec"]?["ports"]?.array?[0]["targetPort"]?.int == 80)
        #expect(svc["spec"]?["sessionAffinity"]?.string == "None")
        // The same IP cannot be taken twice while held, and is free again after delete.
        #expect { try f.registry.create(r, namespace: "default", object: .lit(#"{"metadata":{"name":"t"},"spec":{"clusterIP":"\#(ip)","ports":[{"port":1}]}}"#), context: ctx) }
            throws: { ($0 as? APIError)?.code == 422 }
        try f.registry.delete(r, namespace: "default", name: "s", context: ctx)
        let t = try f.registry.create(r, namespace: "default", object: .lit(#"{"metadata":{"name":"t"},"spec":{"clusterIP":"\#(ip)","ports":[{"port":1}]}}"#), context: ctx)
        #expect(t["spec"]?["clusterIP"]?.string == ip)
    }

    @Test func deploymentGenerationCountsSpecChangesOnly() throws {
        let f = try RegistryFixture()
        let r = ResourceRegistry.deployments
        let d = try f.registry.create(r, namespace: "default", object: .lit(#"""
            {"metadata":{"name":"d"},"spec":{"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"x"}]}}}}
            """#), context: ctx)
        #expect(d.generation == 1)
        #expect(d["spec"]?["strategy"]?["rollingUpdate"]?["maxSurge"]?.string == "25%")
        let scaled = try f.registry.patch(r, namespace: "default", name: "d", type: .merge, patch: .lit(#"{"spec":{"replicas":4}}"#), context: ctx).object
        #expect(scaled.generation == 2)
        let labeled = try f.registry.patch(r, namespace: "default", name: "d", type: .merge, patch: .lit(#"{"metadata":{"labels":{"x":"y"}}}"#), context: ctx).object
        #expect(labeled.generation == 2)
        // Status writes through the main resource are ignored.
        let st = try f.registry.patch(r, namespace: "default", name: "d", type: .merge, patch: .lit(#"{"status":{"replicas":9}}"#), context: ctx).object
        #expect(st["status"]?["replicas"] == nil)
    }

    @Test func strictFieldValidationRejectsUnknownFields() throws {
        let f = try RegistryFixture()
        let strict = RequestContext(user: .controllers, fieldValidation: "Strict")
        #expect {
            try f.registry.create(ResourceRegistry.configmaps, namespace: "default", object: .lit(#"{"metadata":{"name":"c"},"dataa":{}}"#), context: strict)
        } throws: { ($0 as? APIError)?.code == 400 && ($0 as? APIError)?.message.contains("unknown field \"dataa\"") == true }
        // Without Strict, unknown fields are kept.
        let kept = try f.registry.create(ResourceRegistry.configmaps, namespace: "default", object: .lit(#"{"metadata":{"name":"c"},"dataa":{"x":1}}"#), context: RegistryFixture.admin)
        #expect(kept["dataa"]?["x"]?.int == 1)
    }
}

@Suite struct AuthTests {
    @Test func nodeIdentityIsRestrictedToItsOwnObjects() throws {
        let f = try RegistryFixture()
        let authz = Authorizer(store: f.store)
        let node = UserInfo(name: "system:node:n1", groups: ["system:nodes", "system:authenticated"])
        func attrs(_ verb: String, _ r: ResourceType, ns: String = "", name: String = "", sub: String = "") -> RequestAttributes {
            var a = RequestAttributes(user: node, verb: verb, resource: r)
            a.namespace = ns
            a.name = name
            a.subresource = sub
            return a
        }
        #expect(throws: Never.self) { try authz.authorize(attrs("update", ResourceRegistry.nodes, name: "n1", sub: "status")) }
        #expect { try authz.authorize(attrs("update", ResourceRegistry.nodes, name: "n2", sub: "status")) } throws: { ($0 as? APIError)?.code == 403 }
        #expect { try authz.authorize(attrs("update", ResourceRegistry.leases, ns: "kube-node-lease", name: "n2")) } throws: { ($0 as? APIError)?.code == 403 }
        #expect { try authz.authorize(attrs("get", ResourceRegistry.secrets, ns: "default", name: "s")) } throws: { ($0 as? APIError)?.code == 403 }
        // A secret a pod bound to n1 mounts becomes readable.
        _ = try f.registry.create(ResourceRegistry.pods, namespace: "default", object: .lit(#"""
            {"metadata":{"name":"p"},"spec":{"nodeName":"n1","volumes":[{"name":"v","secret":{"secretName":"s"}}],
             "containers":[{"name":"c","image":"x","volumeMounts":[{"name":"v","mountPath":"/s"}]}]}}
            """#), context: RegistryFixture.admin)
        #expect(throws: Never.self) { try authz.authorize(attrs("get", ResourceRegistry.secrets, ns: "default", name: "s")) }
        // Anonymous callers never get here: the authenticator answers nil (401).
        let authn = Authenticator(tokens: [.init(token: "t", user: UserInfo(name: "u", groups: []))])
        #expect(authn.authenticate(authorization: nil, clientCertificateDER: nil) == nil)
        #expect(authn.authenticate(authorization: "Bearer wrong", clientCertificateDER: nil) == nil)
        #expect(authn.authenticate(authorization: "Bearer t", clientCertificateDER: nil)?.name == "u")
    }
}
