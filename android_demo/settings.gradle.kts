// InfantCry Android demo: ":core" is the plain-JVM logic (windowing, hysteresis events, model
// metadata), unit-tested on any JVM; ":app" is the thin Android shell (microphone, ONNX Runtime, UI).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "InfantCryDemo"
include(":core", ":app")
