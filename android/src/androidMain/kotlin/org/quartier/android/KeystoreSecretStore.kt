package org.quartier.android

import android.content.Context
import android.security.keystore.KeyGenParameterSpec
import android.security.keystore.KeyProperties
import android.util.Base64
import java.security.KeyStore
import javax.crypto.Cipher
import javax.crypto.KeyGenerator
import javax.crypto.SecretKey
import javax.crypto.spec.GCMParameterSpec
import org.quartier.core.QuartierException
import org.quartier.core.StorageProblem
import org.quartier.core.SecretStore

/**
 * The device's secrets (the server token), sealed with an AES-GCM key that never leaves the Android
 * Keystore, and kept sealed in the app's private preferences. The key is not bound to the user's
 * authentication, so that background sync works while the phone is locked; the name of each secret is
 * bound to its value (GCM's associated data), so sealed values cannot be swapped between names.
 *
 * Failures are [QuartierException.Storage], naming what failed but never a secret.
 */
class KeystoreSecretStore(
    context: Context,
    private val alias: String = "org.quartier.secrets",
) : SecretStore {
    private val preferences = context.applicationContext.getSharedPreferences(alias, Context.MODE_PRIVATE)
    private val lock = Any()

    override fun get(key: String): String? = guarded("reading") {
        val stored = preferences.getString(key, null) ?: return@guarded null
        val bytes = Base64.decode(stored, Base64.NO_WRAP)
        val cipher = Cipher.getInstance(TRANSFORMATION)
        cipher.init(Cipher.DECRYPT_MODE, secretKey(), GCMParameterSpec(TAG_BITS, bytes, 0, IV_BYTES))
        cipher.updateAAD(key.toByteArray(Charsets.UTF_8))
        String(cipher.doFinal(bytes, IV_BYTES, bytes.size - IV_BYTES), Charsets.UTF_8)
    }

    override fun set(key: String, value: String) = guarded("saving") {
        val cipher = Cipher.getInstance(TRANSFORMATION)
        // The Keystore draws a fresh IV for every encryption.
        cipher.init(Cipher.ENCRYPT_MODE, secretKey())
        cipher.updateAAD(key.toByteArray(Charsets.UTF_8))
        val sealed = cipher.iv + cipher.doFinal(value.toByteArray(Charsets.UTF_8))
        check(cipher.iv.size == IV_BYTES) { "unexpected IV size ${cipher.iv.size}" }
        check(preferences.edit().putString(key, Base64.encodeToString(sealed, Base64.NO_WRAP)).commit()) {
            "the preferences file could not be written"
        }
    }

    override fun delete(key: String) = guarded("deleting") {
        check(preferences.edit().remove(key).commit()) { "the preferences file could not be written" }
    }

    private fun secretKey(): SecretKey {
        val keyStore = KeyStore.getInstance(KEYSTORE).apply { load(null) }
        (keyStore.getKey(alias, null) as? SecretKey)?.let { return it }
        val generator = KeyGenerator.getInstance(KeyProperties.KEY_ALGORITHM_AES, KEYSTORE)
        generator.init(
            KeyGenParameterSpec.Builder(alias, KeyProperties.PURPOSE_ENCRYPT or KeyProperties.PURPOSE_DECRYPT)
                .setBlockModes(KeyProperties.BLOCK_MODE_GCM)
                .setEncryptionPaddings(KeyProperties.ENCRYPTION_PADDING_NONE)
                .setKeySize(256)
                .build(),
        )
        return generator.generateKey()
    }

    private inline fun <T> guarded(doing: String, body: () -> T): T = synchronized(lock) {
        try {
            body()
        } catch (e: QuartierException) {
            throw e
        } catch (e: Exception) {
            // The exception's class only: its message could quote what was being sealed.
            throw QuartierException.Storage(StorageProblem.SECRETS, "the Android Keystore failed while $doing a secret (${e.javaClass.simpleName})")
        }
    }

    private companion object {
        const val KEYSTORE = "AndroidKeyStore"
        const val TRANSFORMATION = "AES/GCM/NoPadding"
        const val IV_BYTES = 12
        const val TAG_BITS = 128
    }
}
