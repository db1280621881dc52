// ZKCore
