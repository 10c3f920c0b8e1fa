import ArgumentParser
import Glibc
import Images

/// `swiftlet image …`: the image store on this host, as `crictl images` / `ctr images` give it.
struct ImageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Import, list and remove container images in the node's image store.",
        subcommands: [ImageImport.self, ImagePull.self, ImageList.self, ImageRemove.self])
}

/// Options every image verb shares.
struct ImageStoreOptions: ParsableArguments {
    @Option(name: .customLong("root-dir"), help: "The agent's state directory; images live in <root-dir>/images.")
    var rootDir: String = "/var/lib/swiftlet"

    func open() throws -> ImageStore { try ImageStore(rootDir: rootDir) }
}

/// Runs a verb body, printing image errors plainly (`swiftlet: <what failed>`) with exit 1.
func runImageVerb(_ body: () throws -> Void) throws {
    do { try body() } catch let error as ImageError {
        FileHandleStderr.write("swiftlet: \(error)\n")
        throw ExitCode(1)
    }
}

enum FileHandleStderr {
    static func write(_ text: String) {
        _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}

struct ImageImport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import an OCI image layout (directory or tar) or a docker-archive (docker save) tar.")

    @OptionGroup var store: ImageStoreOptions
    @Option(name: .customLong("name"), help: "Repository for images whose OCI layout gives only a tag.")
    var baseName: String?
    @Argument(help: "Path of the archive or layout directory.")
    var path: String

    func run() async throws {
        try runImageVerb {
            let records = try store.open().importArchive(at: path, baseName: baseName)
            for record in records {
                let names = record.repoTags.isEmpty ? ["<none>"] : record.repoTags
                for name in names { print("imported \(name) \(record.id)") }
            }
        }
    }
}

struct ImagePull: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pull",
        abstract: "Pull an image from a registry (OCI distribution API v2) by tag or digest.")

    @OptionGroup var store: ImageStoreOptions
    @Option(name: .customLong("insecure-registry"), help: "host:port of a registry spoken to over plain http (repeatable).")
    var insecureRegistries: [String] = []
    @Option(help: "Registry user name (basic auth, or for the bearer token endpoint).")
    var username: String?
    @Option(help: "Registry password; prefer --password-stdin.")
    var password: String?
    @Flag(help: "Read the password from standard input.")
    var passwordStdin = false
    @Argument(help: "Image reference, e.g. busybox:1.36 or registry:5000/app@sha256:<digest>.")
    var reference: String

    func run() async throws {
        var secret = password
        if passwordStdin {
            secret = readLine(strippingNewline: true)
        }
        if (username == nil) != (secret == nil) {
            throw ValidationError("--username and --password (or --password-stdin) go together")
        }
        let credentials = username.map { RegistryCredentials(username: $0, password: secret) }
        let options = PullOptions(credentials: credentials, insecureRegistries: Set(insecureRegistries))
        do {
            let record = try await store.open().pull(reference, options: options)
            print("pulled \((try? ImageReference(parsing: reference).description) ?? reference) \(record.id)")
        } catch let error as ImageError {
            FileHandleStderr.write("swiftlet: \(error)\n")
            throw ExitCode(1)
        }
    }
}

struct ImageList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.", aliases: ["list"])

    @OptionGroup var store: ImageStoreOptions
    @Flag(name: .shortAndLong, help: "Print only image ids.")
    var quiet = false
    @Flag(help: "Show repo digests too.")
    var digests = false

    func run() async throws {
        try runImageVerb {
            let images = try store.open().list()
            if quiet {
                for image in images { print(image.id) }
                return
            }
            var rows: [[String]] = [["REPOSITORY", "TAG"] + (digests ? ["DIGEST"] : []) + ["IMAGE ID", "SIZE"]]
            for image in images {
                let shortID = String(image.id.hex.prefix(13))
                let size = humanSize(image.size)
                var names: [(String, String, String)] = image.repoTags.compactMap { tag in
                    guard let ref = try? ImageReference(parsing: tag) else { return nil }
                    let digest = image.repoDigests.first { $0.hasPrefix(ref.repository + "@") }
                        .map { String($0.split(separator: "@").last ?? "") }
                    return (ref.repository, ref.tag ?? "<none>", digest ?? "<none>")
                }
                if names.isEmpty {
                    names = image.repoDigests.map { ref in
                        let parts = ref.split(separator: "@")
                        return (String(parts[0]), "<none>", String(parts.last ?? ""))
                    }
                }
                if names.isEmpty { names = [("<none>", "<none>", "<none>")] }
                for (repo, tag, digest) in names {
                    rows.append([repo, tag] + (digests ? [digest] : []) + [shortID, size])
                }
            }
            printTable(rows)
        }
    }
}

struct ImageRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove images (every tag of each); layers in use by containers stay until released.",
        aliases: ["remove", "rmi"])

    @OptionGroup var store: ImageStoreOptions
    @Argument(help: "Image references or ids.")
    var references: [String]

    func run() async throws {
        try runImageVerb {
            let store = try store.open()
            for reference in references {
                let record = try store.remove(reference)
                print("Deleted: \(record.id)")
            }
        }
    }
}

/// Sizes as crictl prints them (decimal units).
func humanSize(_ bytes: Int64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1000 && unit < units.count - 1 {
        value /= 1000
        unit += 1
    }
    if unit == 0 { return "\(bytes)B" }
    let rounded = (value * 100).rounded() / 100
    return "\(rounded)\(units[unit])"
}

/// Left-aligned columns separated by three spaces, like crictl's tables.
func printTable(_ rows: [[String]]) {
    guard let columns = rows.first?.count else { return }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    for row in rows {
        var line = ""
        for (i, cell) in row.enumerated() {
            line += i == columns - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count + 3)
        }
        print(line)
    }
}
