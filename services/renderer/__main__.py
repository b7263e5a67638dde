from services.renderer.worker import main

main()
