// Plugin versions for the whole build. AGP 8.7 needs Gradle 8.9+ and a JDK 17 (Android Studio's
// bundled JDK works).
plugins {
    id("com.android.application") version "8.7.2" apply false
}
