package org.infantcry.demo;

/**
 * Platform constants newer than API 29, as literal values with the API level that added them.
 *
 * <p>The app is type-checked against the API 29 stubs (android_demo/app/compile_check.sh), which
 * lack them; the values are the SDK's own, so a device sees exactly what the SDK constants would
 * give. Comparisons use these numbers, never {@code Build.VERSION_CODES.R}, which the stubs hold as
 * the pre-release placeholder 10000.
 */
final class NewerApi {
    private NewerApi() {}

    /** {@code Build.VERSION_CODES.R}: API 30 (Android 11). */
    static final int R = 30;

    /** {@code Build.VERSION_CODES.TIRAMISU}: API 33 (Android 13). */
    static final int TIRAMISU = 33;

    /** {@code Manifest.permission.POST_NOTIFICATIONS}: API 33, a run-time permission from then on. */
    static final String POST_NOTIFICATIONS = "android.permission.POST_NOTIFICATIONS";

    /** {@code ServiceInfo.FOREGROUND_SERVICE_TYPE_MICROPHONE}: API 30. */
    static final int FOREGROUND_SERVICE_TYPE_MICROPHONE = 0x80;
}
