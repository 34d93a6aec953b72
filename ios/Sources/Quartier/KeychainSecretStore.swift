#if canImport(Security)
import Foundation
import QuartierCore
import Security

/// The device's secrets (the server token) in the Keychain, as generic passwords of one service.
///
/// Readable after the first unlock since boot, so that background sync works while the phone is locked,
/// and never copied to another device (`…ThisDeviceOnly`): a token belongs to the device that registered.
public final class KeychainSecretStore: SecretStore, @unchecked Sendable {
    private let service: String
    private let accessGroup: String?

    /// `accessGroup` shares the secrets with the app's extensions (a widget, a share extension).
    public init(service: String = "org.quartier.secrets", accessGroup: String? = nil) {
        self.service = service
        self.accessGroup = accessGroup
    }

    private func query(_ key: String) -> [String: Any] {
        var query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: key,
        ]
        if let accessGroup { query[kSecAttrAccessGroup as String] = accessGroup }
        return query
    }

    public func get(key: String) throws -> String? {
        var query = query(key)
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var item: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &item)
        switch status {
        case errSecSuccess:
            guard let data = item as? Data, let value = String(data: data, encoding: .utf8) else {
                throw QuartierError.Storage(problem: .secrets, reason: "the Keychain holds something unreadable for \(key)")
            }
            return value
        case errSecItemNotFound:
            return nil
        default:
            throw failure("reading", status)
        }
    }

    public func set(key: String, value: String) throws {
        let data = Data(value.utf8)
        let update: [String: Any] = [
            kSecValueData as String: data,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
        ]
        let status = SecItemUpdate(query(key) as CFDictionary, update as CFDictionary)
        switch status {
        case errSecSuccess:
            return
        case errSecItemNotFound:
            var add = query(key)
            add.merge(update) { _, new in new }
            let added = SecItemAdd(add as CFDictionary, nil)
            guard added == errSecSuccess else { throw failure("saving", added) }
        default:
            throw failure("saving", status)
        }
    }

    public func delete(key: String) throws {
        let status = SecItemDelete(query(key) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else { throw failure("deleting", status) }
    }

    private func failure(_ doing: String, _ status: OSStatus) -> QuartierError {
        let message = SecCopyErrorMessageString(status, nil) as String? ?? "status \(status)"
        return QuartierError.Storage(problem: .secrets, reason: "the Keychain failed while \(doing) a secret: \(message)")
    }
}
#endif
