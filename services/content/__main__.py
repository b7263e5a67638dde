from services.content.server import main

main()
